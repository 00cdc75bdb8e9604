//! Ogg pages into codec packets, from bytes pushed in as they arrive.
//!
//! The `ogg` crate's `PacketReader` wants a seekable reader; a stream over HTTP is not one.
//! [`OggDemux`] takes bytes in any slices (a file read in blocks, or an HTTP body chunk by
//! chunk), cuts them into pages with the crate's `PageParser`, checks each page's CRC, and hands
//! out whole packets through its `BasePacketReader`. Bytes before a page's capture pattern are
//! skipped, so a listener may join at any byte of a stream.

use ogg::reading::{BasePacketReader, PageParser};
use ogg::Packet;

use super::AudioError;

/// A page's fixed header, before its segment table.
const HEADER: usize = 27;

/// The largest page the format allows: the header, 255 segment sizes, 255 × 255 bytes.
const MAX_PAGE: usize = HEADER + 255 + 255 * 255;

pub(crate) struct OggDemux {
    /// Bytes received and not yet cut into pages.
    buf: Vec<u8>,
    packets: BasePacketReader,
    /// Bytes skipped looking for a page, for the error when nothing is Ogg.
    skipped: usize,
    /// At least one page was read.
    seen_page: bool,
}

impl OggDemux {
    pub(crate) fn new() -> Self {
        OggDemux {
            buf: Vec::new(),
            packets: BasePacketReader::new(),
            skipped: 0,
            seen_page: false,
        }
    }

    /// More bytes of the stream.
    pub(crate) fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// Whether bytes are waiting that do not yet make a whole page.
    pub(crate) fn has_partial_page(&self) -> bool {
        !self.buf.is_empty()
    }

    /// The next whole packet, or `None` until more bytes are pushed.
    pub(crate) fn next_packet(&mut self) -> Result<Option<Packet>, AudioError> {
        loop {
            if let Some(p) = self.packets.read_packet() {
                return Ok(Some(p));
            }
            if !self.next_page()? {
                return Ok(None);
            }
        }
    }

    /// Cuts one page off the buffer into the packet reader; false if no whole page is there.
    fn next_page(&mut self) -> Result<bool, AudioError> {
        let Some(at) = self.buf.windows(4).position(|w| w == b"OggS") else {
            // Keep the last three bytes: they may be the start of a capture pattern.
            let drop = self.buf.len().saturating_sub(3);
            self.skip(drop)?;
            return Ok(false);
        };
        self.skip(at)?;
        if self.buf.len() < HEADER {
            return Ok(false);
        }
        let segments = usize::from(self.buf[HEADER - 1]);
        if self.buf.len() < HEADER + segments {
            return Ok(false);
        }
        let body: usize = self.buf[HEADER..HEADER + segments]
            .iter()
            .map(|&s| usize::from(s))
            .sum();
        let total = HEADER + segments + body;
        if self.buf.len() < total {
            return Ok(false);
        }
        let page: Vec<u8> = self.buf.drain(..total).collect();
        let header: [u8; HEADER] = page[..HEADER].try_into().expect("27 bytes");
        let parsed = PageParser::new(header).and_then(|(mut parser, _)| {
            parser.parse_segments(page[HEADER..HEADER + segments].to_vec());
            parser.parse_packet_data(page[HEADER + segments..].to_vec())
        });
        match parsed {
            Ok(page) => {
                self.seen_page = true;
                self.packets
                    .push_page(page)
                    .map_err(|e| AudioError::Decode(format!("bad Ogg page: {e}")))?;
            }
            // A damaged page (bad CRC) is dropped: a click, not the end of the playback.
            Err(e) => tracing::warn!(error = %e, "skipping a damaged Ogg page"),
        }
        Ok(true)
    }

    fn skip(&mut self, n: usize) -> Result<(), AudioError> {
        self.buf.drain(..n);
        self.skipped += n;
        if !self.seen_page && self.skipped > MAX_PAGE {
            return Err(AudioError::Decode(
                "not an Ogg stream (no Ogg page found)".to_owned(),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ogg::{PacketWriteEndInfo, PacketWriter};

    fn ogg_bytes(packets: &[&[u8]]) -> Vec<u8> {
        let mut out = Vec::new();
        {
            let mut w = PacketWriter::new(&mut out);
            for (i, p) in packets.iter().enumerate() {
                let end = if i + 1 == packets.len() {
                    PacketWriteEndInfo::EndStream
                } else {
                    PacketWriteEndInfo::EndPage
                };
                w.write_packet(p.to_vec(), 7, end, i as u64).unwrap();
            }
        }
        out
    }

    #[test]
    fn packets_come_out_whatever_the_slices_and_after_junk() {
        let packets: [&[u8]; 3] = [b"first", &[9u8; 600], b"last"];
        let mut bytes = b"junk before the first page".to_vec();
        bytes.extend(ogg_bytes(&packets));
        for slice in [1, 7, 4096] {
            let mut d = OggDemux::new();
            let mut got = Vec::new();
            for chunk in bytes.chunks(slice) {
                d.push(chunk);
                while let Some(p) = d.next_packet().unwrap() {
                    got.push(p);
                }
            }
            let data: Vec<&[u8]> = got.iter().map(|p| p.data.as_slice()).collect();
            assert_eq!(data, packets, "slices of {slice}");
            assert!(got[2].last_in_stream());
            assert_eq!(got[1].absgp_page(), 1);
        }
    }

    #[test]
    fn bytes_that_are_not_ogg_are_refused() {
        let mut d = OggDemux::new();
        d.push(&vec![0u8; MAX_PAGE + 10]);
        let err = d.next_packet().err().expect("refused").to_string();
        assert!(err.contains("not an Ogg stream"), "{err}");
    }
}
