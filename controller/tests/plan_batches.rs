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
