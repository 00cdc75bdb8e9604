//! The report as CSV for Excel: UTF-8 with a byte-order mark (Excel on Vietnamese Windows
//! needs it to show diacritics), RFC 4180 quoting and line ends, a header row, one row per
//! village, then the total. Numbers are written with a decimal point; an empty cell is a
//! percentage with nothing to divide by.

use super::{Numbers, Report};

/// The language of the header row and of the total's label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Vi,
    En,
}

impl Lang {
    /// `en` is English; anything else is Vietnamese, the default.
    pub fn from_code(code: &str) -> Lang {
        if code.eq_ignore_ascii_case("en") {
            Lang::En
        } else {
            Lang::Vi
        }
    }
}

/// The columns, in order: (Vietnamese, English). The first names the village.
const HEADER: &[(&str, &str)] = &[
    ("Thôn/bản", "Village"),
    ("Số cụm loa", "Loudspeaker nodes"),
    ("Bản tin cần phát", "Bulletins targeted"),
    ("Đã phát", "Played"),
    ("Lỗi hoặc bỏ lỡ", "Failed or missed"),
    ("Trong đó bỏ lỡ", "Of which missed"),
    ("Đã hủy", "Cancelled"),
    ("Chưa xong", "Not settled"),
    ("Tỷ lệ phát (%)", "Coverage (%)"),
    ("Bản tin khẩn cấp", "Emergency bulletins"),
    ("Khẩn cấp đã phát", "Emergencies played"),
    ("Thời lượng phát (phút)", "Minutes on air"),
    ("Giờ trực tuyến", "Hours online"),
    ("Giờ cụm loa trong kỳ", "Node-hours in period"),
    ("Trực tuyến (%)", "Online (%)"),
];

const TOTAL: (&str, &str) = ("Tổng cộng", "Total");

const BOM: &[u8] = "\u{feff}".as_bytes();

fn pick(label: (&'static str, &'static str), lang: Lang) -> &'static str {
    match lang {
        Lang::Vi => label.0,
        Lang::En => label.1,
    }
}

fn cells(name: &str, n: &Numbers) -> Vec<String> {
    let opt = |x: Option<f64>| x.map_or_else(String::new, |v| format!("{v:.1}"));
    vec![
        name.to_owned(),
        n.nodes.to_string(),
        n.targeted.to_string(),
        n.played.to_string(),
        n.failed.to_string(),
        n.missed.to_string(),
        n.cancelled.to_string(),
        n.pending.to_string(),
        opt(n.coverage_percent),
        n.emergencies.to_string(),
        n.emergencies_played.to_string(),
        format!("{:.1}", n.minutes_on_air),
        format!("{:.1}", n.online_hours),
        format!("{:.1}", n.node_hours),
        opt(n.online_percent),
    ]
}

/// The CSV file's bytes.
pub fn render(report: &Report, lang: Lang) -> Vec<u8> {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(BOM.to_vec());
    // Writing to memory cannot fail, and every row has the header's length.
    let write = |w: &mut csv::Writer<Vec<u8>>, row: Vec<String>| {
        w.write_record(&row).expect("CSV into memory");
    };
    write(
        &mut w,
        HEADER.iter().map(|h| pick(*h, lang).to_owned()).collect(),
    );
    for v in &report.villages {
        write(&mut w, cells(&v.name, &v.numbers));
    }
    write(&mut w, cells(pick(TOTAL, lang), &report.total));
    w.into_inner().expect("CSV into memory")
}

/// The file name officials get: `bao-cao-loa-2026-11-24.csv`, or with both dates for a
/// longer period.
pub fn file_name(report: &Report) -> String {
    if report.from == report.to {
        format!("bao-cao-loa-{}.csv", report.from)
    } else {
        format!("bao-cao-loa-{}_{}.csv", report.from, report.to)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::tally::Tally;
    use crate::report::{Period, VillageRow};

    fn report() -> Report {
        let tz = "Asia/Ho_Chi_Minh".parse().unwrap();
        let day = "2026-11-24".parse().unwrap();
        let p = Period::new(day, day, tz).unwrap();
        let mut r = Report::new(&p, tz, p.start, &[]);
        let numbers = Numbers::from(&Tally {
            nodes: 1,
            targeted: 3,
            played: 2,
            node_ms: 3_600_000,
            online_ms: 1_800_000,
            airtime_ms: 150_000,
            ..Tally::default()
        });
        r.villages.push(VillageRow {
            zone_id: 2,
            name: "Thôn Nà Sài, xóm \"Trên\"".into(),
            numbers: numbers.clone(),
        });
        r.total = numbers;
        r
    }

    #[test]
    fn csv_has_a_bom_crlf_lines_and_quotes_what_needs_it() {
        let bytes = render(&report(), Lang::Vi);
        assert!(bytes.starts_with(&[0xEF, 0xBB, 0xBF]));
        let text = std::str::from_utf8(&bytes[3..]).unwrap();
        let lines: Vec<&str> = text.split_terminator("\r\n").collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert!(
            lines[0].starts_with("Thôn/bản,Số cụm loa,Bản tin cần phát,"),
            "{}",
            lines[0]
        );
        assert_eq!(
            lines[1],
            "\"Thôn Nà Sài, xóm \"\"Trên\"\"\",1,3,2,0,0,0,0,66.7,0,0,2.5,0.5,1.0,50.0"
        );
        assert_eq!(
            lines[2],
            "Tổng cộng,1,3,2,0,0,0,0,66.7,0,0,2.5,0.5,1.0,50.0"
        );
        assert_eq!(file_name(&report()), "bao-cao-loa-2026-11-24.csv");
    }

    #[test]
    fn english_headers_on_request_and_empty_cells_for_no_percentage() {
        let mut r = report();
        r.total = Numbers::from(&Tally::default());
        let text = String::from_utf8(render(&r, Lang::from_code("en"))).unwrap();
        assert!(
            text.contains("\r\nTotal,0,0,0,0,0,0,0,,0,0,0.0,0.0,0.0,\r\n"),
            "{text}"
        );
        assert!(text.starts_with("\u{feff}Village,Loudspeaker nodes,"));
        assert_eq!(Lang::from_code("vi"), Lang::Vi);
    }
}
