//! One node's stream of a relay: its own Ogg Opus logical stream (the two header pages, then
//! audio pages numbered from 0) over the packets every listener shares. A listener that falls
//! more than the fan-out's depth behind skips to the present: the node hears a gap, as after
//! a stall on its link.

use std::convert::Infallible;

use bytes::Bytes;
use futures_util::Stream;
use tokio::sync::broadcast::{self, error::RecvError};

use crate::opus::ogg_out::OggOpus;
use crate::opus::Packet;

pub struct Listener {
    rx: broadcast::Receiver<Packet>,
    ogg: OggOpus,
}

impl Listener {
    pub(super) fn new(rx: broadcast::Receiver<Packet>, pre_skip: u16, per_page: u32) -> Self {
        Listener {
            rx,
            ogg: OggOpus::new(rand::random(), pre_skip, crate::opus::RATE).with_pages_of(per_page),
        }
    }

    /// The bytes of the stream, page by page, until the relay ends.
    pub fn into_stream(mut self) -> impl Stream<Item = Result<Bytes, Infallible>> + Send {
        let headers = Bytes::from(self.ogg.headers());
        let audio = futures_util::stream::unfold(self, |mut l| async move {
            loop {
                match l.rx.recv().await {
                    Ok(p) => {
                        if let Some(page) = l.ogg.push(&p) {
                            return Some((Ok(Bytes::from(page)), l));
                        }
                    }
                    Err(RecvError::Lagged(n)) => {
                        tracing::warn!(skipped_packets = n, "a listener fell behind the relay");
                    }
                    Err(RecvError::Closed) => return None,
                }
            }
        });
        futures_util::StreamExt::chain(
            futures_util::stream::once(async move { Ok(headers) }),
            audio,
        )
    }
}
