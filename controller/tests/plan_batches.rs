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
