//! Uploading a node release from the releases page, in a real headless browser (Debian's
//! Chromium over WebDriver) against a real controller with a release key: an admin picks a
//! bundle signed by `loa-controller release sign`, the page's script sends it, and the page
//! then lists the release, ready to roll out; a bundle signed with another key is refused with
//! the reason in Vietnamese, and nothing is added.

use loa_e2e::browser::Browser;
use loa_e2e::procs::{Broker, Controller};
use loa_e2e::release::{bundle, keygen};

#[tokio::test(flavor = "multi_thread")]
async fn an_admin_uploads_a_signed_release_from_the_page_and_a_foreign_one_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("release.key");
    let public = keygen(&key).unwrap();
    let controller = Controller::start_with(
        &dir.path().join("controller"),
        Broker::embedded(),
        &[("LOA_RELEASE_KEY", public.as_str())],
    )
    .await
    .unwrap();
    let api = controller.api();
    api.account("quan-tri", "admin").await.unwrap();
    // The controller checks a bundle's signature and hash, not what the program does: a
    // small script stands in for the node's binary (which a debug build makes large).
    let node = dir.path().join("loa-node-new");
    std::fs::write(&node, "#!/bin/sh\nexec loa-node \"$@\"\n").unwrap();
    let good = bundle(dir.path(), &key, "0.9.0-trang", &node).unwrap();
    let other_key = dir.path().join("other.key");
    keygen(&other_key).unwrap();
    let foreign_dir = dir.path().join("foreign");
    std::fs::create_dir_all(&foreign_dir).unwrap();
    let foreign = bundle(&foreign_dir, &other_key, "0.9.1-la", &node).unwrap();

    let b = Browser::start().await.unwrap();
    b.sign_in(&controller.url, "quan-tri").await.unwrap();
    b.click("#nav-releases").await.unwrap();
    b.find("#no-releases").await.unwrap();

    // Signed with another key: refused, said in the page's language, nothing added.
    b.fill("#release-file", foreign.to_str().unwrap())
        .await
        .unwrap();
    b.click("#release-upload-submit").await.unwrap();
    b.wait_js(
        "the refusal shown",
        "document.getElementById('release-upload-status').className === 'alert'",
    )
    .await
    .unwrap();
    let said = b.find("#release-upload-status").await.unwrap();
    let said = said.text().await.unwrap();
    assert!(
        said.contains("không được ký bằng khoá phát hành của xã"),
        "{said}"
    );
    let releases = api.get("/api/v1/releases").await.unwrap();
    assert_eq!(releases, serde_json::json!([]), "{releases}");

    // Signed with the commune's key: taken, and the page lists it with its rollout form.
    b.fill("#release-file", good.to_str().unwrap())
        .await
        .unwrap();
    b.click("#release-upload-submit").await.unwrap();
    b.find("#uploaded").await.unwrap();
    b.find(r#"[data-test="release"][data-version="0.9.0-trang"] [data-test="rollout-form"]"#)
        .await
        .unwrap();
    let releases = api.get("/api/v1/releases").await.unwrap();
    let list = releases.as_array().unwrap();
    assert_eq!(list.len(), 1, "{releases}");
    assert_eq!(list[0]["version"], "0.9.0-trang");
    assert_eq!(list[0]["arch"], loa_protocol::release::this_arch());
    assert!(b
        .url()
        .await
        .contains(&format!("uploaded={}", list[0]["id"])));
    b.screenshot("releases-uploaded").await.unwrap();
    b.close().await.unwrap();
}
