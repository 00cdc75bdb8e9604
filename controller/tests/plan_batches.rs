//! Plans for many nodes are written in batches, one transaction each: a node that cannot get a
//! plan (taken out of service meanwhile) holds back none of the others in its batch.

mod common;

use chrono::Utc;
use common::Harness;

#[tokio::test]
async fn a_node_gone_from_a_batch_holds_back_no_other() {
    let h = Harness::new().await;
    let village = h.zone("Bản Khoang", None).await;
    let ids: Vec<String> = (1..=3).map(|i| format!("khoang-{i}")).collect();
    for id in &ids {
        h.node(id, village).await;
    }
    let before = [h.plan(&ids[0]).await.version, h.plan(&ids[2]).await.version];
    // Taken out in the store alone: the planner still lists it in the batch.
    h.state
        .store
        .decommission_node(&ids[1], Utc::now())
        .await
        .unwrap();
    h.state.planner.publish_all(&ids).await;
    assert_eq!(h.plan(&ids[0]).await.version, before[0] + 1);
    assert_eq!(h.plan(&ids[2]).await.version, before[1] + 1);
    assert!(
        h.state.store.sealed_plan(&ids[1]).await.unwrap().is_none(),
        "no plan for the node taken out"
    );
}

#[tokio::test]
async fn a_batch_sends_each_node_its_stored_plan_retained_and_in_version_order() {
    let h = Harness::new().await;
    let village = h.zone("Bản Khoang", None).await;
    let ids: Vec<String> = (1..=3).map(|i| format!("khoang-{i}")).collect();
    for id in &ids {
        h.node(id, village).await;
    }
    let already = h.published().await.len();
    h.state.planner.publish_all(&ids).await;
    h.state.planner.publish_all(&ids).await;
    let sent = h.published().await;
    let sent = &sent[already..];
    assert_eq!(sent.len(), 6, "two plans for each of three nodes");
    for id in &ids {
        let topic = h.topics().plan(id);
        let mine: Vec<_> = sent.iter().filter(|m| m.topic == topic).collect();
        assert_eq!(mine.len(), 2, "{id}");
        assert!(mine.iter().all(|m| m.retain), "plans are retained");
        // What went out last is what the store keeps, and it is the higher version.
        let stored = h.state.store.sealed_plan(id).await.unwrap().unwrap();
        assert_eq!(mine[1].payload, stored);
        let key = h.state.planner.keys().current().verifying_key();
        let version = |m: &loa_controller::mqtt::outbox::Message| {
            loa_protocol::Plan::verify(&m.payload, &[key], id)
                .expect("a plan signed by the controller")
                .0
                .version
        };
        assert_eq!(version(mine[1]), version(mine[0]) + 1, "{id}");
    }
}

#[tokio::test]
async fn plans_are_issued_by_the_controllers_clock_and_renewed_after_a_third_of_their_validity() {
    use chrono::Duration;
    use loa_controller::clock::{Clock, ManualClock};
    let start = Utc::now();
    let clock = ManualClock::at(start);
    let h = Harness::with_clock(|_| {}, clock.clone()).await;
    let village = h.zone("Bản Khoang", None).await;
    h.node("khoang-1", village).await;
    let key = h.state.planner.keys().current().verifying_key();
    let stored = || async {
        let sealed = h
            .state
            .store
            .sealed_plan("khoang-1")
            .await
            .unwrap()
            .unwrap();
        loa_protocol::Plan::verify(&sealed, &[key], "khoang-1")
            .unwrap()
            .0
    };
    let first = stored().await;
    let validity = Duration::seconds(h.state.cfg.plan_validity_secs);
    assert_eq!(first.issued_at, start);
    assert_eq!(first.valid_until, start + validity);

    // Just before a third of its validity: nothing new.
    clock.advance(validity / 3 - Duration::minutes(1));
    let renewed = h.state.planner.refresh_aging(clock.now()).await.unwrap();
    assert_eq!(renewed, 0);
    assert_eq!(stored().await.version, first.version);

    // Just after: a fresh plan, issued at the clock's time.
    clock.advance(Duration::minutes(2));
    let renewed = h.state.planner.refresh_aging(clock.now()).await.unwrap();
    assert_eq!(renewed, 1);
    let second = stored().await;
    assert_eq!(second.version, first.version + 1);
    assert_eq!(second.issued_at, clock.now());
    assert_eq!(second.valid_until, clock.now() + validity);
}
