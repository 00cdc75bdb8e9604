//! Opus packets into Ogg pages as RFC 7845 lays them out: a page holding only the OpusHead
//! packet (beginning of stream), a page with OpusTags, then audio pages whose granule position
//! counts the 48 kHz samples decoded through the page's last packet (pre-skip included). The
//! last page of a file carries the end-of-stream flag and the position that trims the
//! encoder's padding.
//!
//! A stream's listener gets its own `OggOpus` (its own serial, pages numbered from 0), fed the
//! same packets as every other listener: a node joining late receives a well-formed stream.

use std::io::Write;
use std::sync::{Arc, Mutex};

use ogg::writing::{PacketWriteEndInfo, PacketWriter};

use super::Packet;

/// Audio packets per page: 10 × 20 ms, so a page is 200 ms of sound. Measured at the default
/// 32 kbit/s (`scripts/bench-relay.sh`): 5 to a page cost 8 % in page headers, 257 KB a
/// minute per village, over the 250 KB budget of a paid link; 10 cost 4 %. More would add
/// latency for a live voice (a page leaves when its last packet is encoded).
pub const PACKETS_PER_PAGE: u32 = 10;
/// Audio packets per page of a live session: 3 × 20 ms. A voice is heard 140 ms sooner than
/// with 200 ms pages, for about 12 % of the bytes in page headers (a session is short).
pub const LIVE_PACKETS_PER_PAGE: u32 = 3;

/// Where the page writer puts its bytes, taken out after each packet.
#[derive(Clone, Default)]
struct Sink(Arc<Mutex<Vec<u8>>>);

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("sink lock").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// One Ogg Opus logical stream being written.
pub struct OggOpus {
    writer: PacketWriter<'static, Sink>,
    sink: Sink,
    serial: u32,
    pre_skip: u16,
    input_rate: u32,
    /// 48 kHz samples through the last packet written.
    granule: u64,
    /// Packets on the page being filled.
    on_page: u32,
    /// Packets to a page.
    per_page: u32,
}

impl OggOpus {
    /// A stream with this serial number; `pre_skip` from the encoder, `input_rate` the rate
    /// of the original (for information only, decoders play at 48 kHz).
    pub fn new(serial: u32, pre_skip: u16, input_rate: u32) -> Self {
        let sink = Sink::default();
        OggOpus {
            writer: PacketWriter::new(sink.clone()),
            sink,
            serial,
            pre_skip,
            input_rate,
            granule: 0,
            on_page: 0,
            per_page: PACKETS_PER_PAGE,
        }
    }

    /// The same, with `per_page` packets to a page (a live voice wants short pages).
    pub fn with_pages_of(mut self, per_page: u32) -> Self {
        self.per_page = per_page.max(1);
        self
    }

    /// The two header pages, OpusHead then OpusTags.
    pub fn headers(&mut self) -> Vec<u8> {
        let mut head = Vec::with_capacity(19);
        head.extend_from_slice(b"OpusHead");
        head.push(1); // version
        head.push(1); // channels: mono
        head.extend_from_slice(&self.pre_skip.to_le_bytes());
        head.extend_from_slice(&self.input_rate.to_le_bytes());
        head.extend_from_slice(&0i16.to_le_bytes()); // output gain
        head.push(0); // channel mapping family 0: mono or stereo, no table
        let vendor = concat!("loa ", env!("CARGO_PKG_VERSION"), " (libopus)");
        let mut tags = Vec::with_capacity(16 + vendor.len());
        tags.extend_from_slice(b"OpusTags");
        tags.extend_from_slice(&(vendor.len() as u32).to_le_bytes());
        tags.extend_from_slice(vendor.as_bytes());
        tags.extend_from_slice(&0u32.to_le_bytes()); // no user comments
        self.write(head, PacketWriteEndInfo::EndPage, 0);
        self.write(tags, PacketWriteEndInfo::EndPage, 0);
        self.take()
    }

    /// Adds an audio packet; returns a finished page when this packet completed one.
    pub fn push(&mut self, packet: &Packet) -> Option<Vec<u8>> {
        self.granule += u64::from(packet.samples);
        self.on_page += 1;
        let end = if self.on_page == self.per_page {
            self.on_page = 0;
            PacketWriteEndInfo::EndPage
        } else {
            PacketWriteEndInfo::NormalPacket
        };
        self.write(packet.data.to_vec(), end, self.granule);
        let page = self.take();
        (!page.is_empty()).then_some(page)
    }

    /// Ends a stream that was cut off (a relay window that closed): the page being filled goes
    /// out with the end-of-stream flag after `packet`.
    pub fn end(&mut self, packet: &Packet) -> Vec<u8> {
        self.granule += u64::from(packet.samples);
        self.on_page = 0;
        self.write(
            packet.data.to_vec(),
            PacketWriteEndInfo::EndStream,
            self.granule,
        );
        self.take()
    }

    /// Ends a file whose original audio is `length` samples at 48 kHz: the last page's position
    /// is pre-skip + length, which tells decoders to drop the padding after it.
    pub fn finish(&mut self, packet: &Packet, length: u64) -> Vec<u8> {
        let end = u64::from(self.pre_skip) + length;
        self.granule += u64::from(packet.samples);
        self.on_page = 0;
        let granule = end.min(self.granule);
        self.write(packet.data.to_vec(), PacketWriteEndInfo::EndStream, granule);
        self.take()
    }

    fn write(&mut self, data: Vec<u8>, end: PacketWriteEndInfo, granule: u64) {
        // Writing to memory cannot fail.
        let _ = self.writer.write_packet(data, self.serial, end, granule);
    }

    fn take(&mut self) -> Vec<u8> {
        std::mem::take(&mut *self.sink.0.lock().expect("sink lock"))
    }
}
