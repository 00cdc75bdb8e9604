//! The broker's own round-trip floor, the peer loa's fan-out is measured against: a bare
//! client publishes one message (2 KB, like a plan) to each of N subscribers, each answers at
//! once with a small message (128 bytes, like a `received` event), and the time runs until
//! the last answer arrives. No signing, no database, no files: only the broker and rumqttc,
//! with the controller's client settings (QoS 1, 200 in flight).

use anyhow::Context as _;
use rumqttc::{AsyncClient, Event, EventLoop, MqttOptions, Packet, QoS};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// One floor measurement's setting.
#[derive(Debug, Clone)]
pub struct Floor {
    /// `host:port`.
    pub broker: String,
    pub username: Option<String>,
    pub password: Option<String>,
    pub subscribers: usize,
    pub message_bytes: usize,
    pub answer_bytes: usize,
}

fn options(f: &Floor, id: &str) -> anyhow::Result<MqttOptions> {
    let (host, port) = f
        .broker
        .rsplit_once(':')
        .context("the broker is host:port")?;
    let mut o = MqttOptions::new(id, host, port.parse::<u16>()?);
    if let (Some(u), Some(p)) = (&f.username, &f.password) {
        o.set_credentials(u, p);
    }
    o.set_keep_alive(Duration::from_secs(30));
    o.set_max_packet_size(
        loa_protocol::MAX_PACKET_BYTES,
        loa_protocol::MAX_PACKET_BYTES,
    );
    o.set_inflight(200);
    Ok(o)
}

/// Polls `eventloop` until it says the subscription is in place, then forwards incoming
/// publishes' topics to `incoming` until `stop`.
async fn pump(
    mut eventloop: EventLoop,
    subscribed: mpsc::Sender<()>,
    incoming: Option<mpsc::Sender<String>>,
    stop: CancellationToken,
) {
    loop {
        let ev = tokio::select! {
            _ = stop.cancelled() => return,
            ev = eventloop.poll() => ev,
        };
        match ev {
            Ok(Event::Incoming(Packet::SubAck(_))) => {
                let _ = subscribed.send(()).await;
            }
            Ok(Event::Incoming(Packet::Publish(p))) => {
                if let Some(tx) = &incoming {
                    let _ = tx.send(p.topic).await;
                }
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(error = %e, "floor client lost the broker");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
}

/// The subscribers and the bare publisher, connected and subscribed, ready for rounds.
pub struct Bench {
    floor: Floor,
    publisher: AsyncClient,
    answers: mpsc::Receiver<String>,
    stop: CancellationToken,
}

impl Bench {
    /// Connects N answering subscribers and the publisher; returns once all are subscribed.
    pub async fn connect(floor: Floor) -> anyhow::Result<Bench> {
        let stop = CancellationToken::new();
        let (subscribed_tx, mut subscribed) = mpsc::channel(floor.subscribers + 1);
        for i in 0..floor.subscribers {
            let (client, eventloop) = AsyncClient::new(options(&floor, &format!("floor-{i}"))?, 16);
            let (in_tx, mut in_rx) = mpsc::channel::<String>(4);
            client
                .subscribe(format!("floor/{i}/in"), QoS::AtLeastOnce)
                .await?;
            tokio::spawn(pump(
                eventloop,
                subscribed_tx.clone(),
                Some(in_tx),
                stop.clone(),
            ));
            let answer = vec![b'a'; floor.answer_bytes];
            tokio::spawn(async move {
                while in_rx.recv().await.is_some() {
                    let _ = client
                        .publish(
                            format!("floor/{i}/out"),
                            QoS::AtLeastOnce,
                            false,
                            answer.clone(),
                        )
                        .await;
                }
            });
        }
        let (publisher, eventloop) =
            AsyncClient::new(options(&floor, "floor-publisher")?, floor.subscribers + 16);
        let (answers_tx, answers) = mpsc::channel(floor.subscribers + 16);
        publisher.subscribe("floor/+/out", QoS::AtLeastOnce).await?;
        tokio::spawn(pump(
            eventloop,
            subscribed_tx,
            Some(answers_tx),
            stop.clone(),
        ));
        for n in 0..=floor.subscribers {
            tokio::time::timeout(Duration::from_secs(120), subscribed.recv())
                .await
                .with_context(|| format!("only {n} of the floor's clients subscribed in 2 min"))?;
        }
        Ok(Bench {
            floor,
            publisher,
            answers,
            stop,
        })
    }

    /// One round: publish to every subscriber, wait for every answer.
    pub async fn round(&mut self) -> anyhow::Result<Duration> {
        let n = self.floor.subscribers;
        let message = vec![b'p'; self.floor.message_bytes];
        let t0 = Instant::now();
        for i in 0..n {
            self.publisher
                .publish(
                    format!("floor/{i}/in"),
                    QoS::AtLeastOnce,
                    false,
                    message.clone(),
                )
                .await?;
        }
        for got in 0..n {
            tokio::time::timeout(Duration::from_secs(120), self.answers.recv())
                .await
                .with_context(|| format!("{got} of {n} answers in 2 min: the broker lost some"))?
                .context("the publisher's connection ended")?;
        }
        Ok(t0.elapsed())
    }
}

impl Drop for Bench {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}
