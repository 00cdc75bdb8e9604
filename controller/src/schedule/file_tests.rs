//! Table tests of the programme files ([`super`]): pure, no clock, no I/O beyond the fixtures.

use super::*;

fn manifest() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn parse_text(text: &str) -> Result<Vec<ProgrammeSpec>, Vec<FileError>> {
    parse(Path::new("schedules/thu.toml"), text).map(|l| l.into_iter().map(|l| l.spec).collect())
}

/// The one error a text gives, as (line, message).
fn one_error(text: &str) -> (usize, String) {
    let errors = parse_text(text).expect_err("the text is broken");
    assert_eq!(errors.len(), 1, "{errors:#?}");
    (errors[0].line, errors[0].message.clone())
}

const GOOD: &str = "[[programme]]\nname = \"Bản tin sáng\"\nzones = [\"Xã Demo\"]\n";

#[test]
fn the_shipped_example_loads_and_checks_clean() {
    let dir = manifest().join("../schedules");
    let specs = load_dir(&dir).unwrap_or_else(|e| panic!("{e:#?}"));
    let names: Vec<_> = specs.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "Bản tin sáng",
            "Bản tin chiều",
            "Thông báo tuần",
            "Tổng kết tháng"
        ]
    );
    let morning = &specs[0];
    assert!(morning.file.ends_with("chuong-trinh-thuong-ky.toml"));
    assert_eq!(morning.zones, [("Xã Demo".to_string(), 29)]);
    assert_eq!(morning.line, 27);
    assert_eq!(
        morning.recurrence.rule,
        TimeRule::Cron {
            expr: "0 0 6 * * Mon-Sat".into()
        }
    );
    assert!(morning.announcement.ends_with("demo/thong-bao-mau.mp3"));
    assert!(morning.announcement.is_file(), "{:?}", morning.announcement);
    assert_eq!(morning.priority, Priority::Normal);
    assert_eq!(morning.expires_in_minutes, 20);
    assert_eq!(
        specs[1].recurrence.repeat,
        Some(Repeat {
            times: 2,
            gap_minutes: 15
        })
    );
    assert_eq!(specs[2].zones.len(), 3);
    assert_eq!(specs[2].expires_in_minutes, 30);
    assert!(matches!(specs[3].recurrence.rule, TimeRule::Rrule { .. }));
    assert_eq!(check_dir(&dir), []);
}

#[test]
fn broken_files_name_the_file_the_line_and_the_problem() {
    let dir = manifest().join("tests/fixtures/schedules-broken");
    let errors = check_dir(&dir);
    let cases = [
        ("01-cu-phap.toml", 5, "not valid TOML"),
        ("02-khoa-la.toml", 4, "unknown key `zone`; did you mean `zones`?"),
        ("02-khoa-la.toml", 2, "missing `zones`"),
        ("03-cron-5-truong.toml", 5, "cron needs 6 or 7 fields: seconds first"),
        ("04-thieu-ban-ghi.toml", 6, "ban-tin-khong-co.mp3 does not exist"),
        ("05-hai-quy-tac.toml", 6, "two time rules: `cron` (line 5) and `at`"),
        ("06-muc-uu-tien.toml", 7, "unknown priority \"urgent\": use normal, priority or emergency"),
        ("07-van-ban.toml", 6, "text announcements need text-to-speech, which is not available yet; give a recording with `announcement`"),
        ("08-nhieu-loi.toml", 6, "`-1XX` is not a valid weekday"),
        ("08-nhieu-loi.toml", 16, "valid_until 2026-05-31 is before valid_from 2026-06-01"),
        ("08-nhieu-loi.toml", 23, "repeat times is 0"),
        ("09-khong-phai-am-thanh.toml", 6, "cannot be played: this file is not audio"),
    ];
    for (file, line, words) in cases {
        assert!(
            errors
                .iter()
                .any(|e| e.file == dir.join(file) && e.line == line && e.message.contains(words)),
            "no error at {file}:{line} saying {words:?} in {errors:#?}"
        );
    }
    assert_eq!(errors.len(), cases.len(), "{errors:#?}");
    let shown = errors[0].to_string();
    assert!(
        shown.starts_with(&format!(
            "{}:5: not valid TOML",
            dir.join("01-cu-phap.toml").display()
        )),
        "{shown}"
    );

    // Without decoding recordings, the same errors but those about the recordings.
    let loaded = load_dir(&dir).unwrap_err();
    assert_eq!(loaded.len(), cases.len() - 2, "{loaded:#?}");
    let several = load_file(&dir.join("08-nhieu-loi.toml")).unwrap_err();
    let lines: Vec<_> = several.iter().map(|e| e.line).collect();
    assert_eq!(lines, [6, 16, 23]);
}

#[test]
fn each_mistake_in_a_programme_points_at_its_line() {
    let cases: Vec<(String, usize, &str)> = vec![
        (
            "# a comment\n\n[[programme]]\nzones = [\"Xã Demo\"]\ncron = \"0 0 6 * * *\"\nannouncement = \"a.mp3\"\n".into(),
            3,
            "missing `name`",
        ),
        (
            format!("{GOOD}announcement = \"a.mp3\"\n"),
            1,
            "no time rule: give one of `cron",
        ),
        (
            format!("{GOOD}cron = \"0 0 6 * * *\"\n"),
            1,
            "missing `announcement`",
        ),
        (
            format!("{GOOD}rrule = \"FREQ=MONTHLY;BYDAY=-1FR\"\nannouncement = \"a.mp3\"\n"),
            4,
            "`rrule` needs `start`",
        ),
        (
            format!("{GOOD}cron = \"0 0 6 * * *\"\nstart = \"2026-01-30T16:00\"\nannouncement = \"a.mp3\"\n"),
            5,
            "`start` only goes with `rrule`",
        ),
        (
            format!("{GOOD}cron = \"0 0 6 * * Mon-Sam\"\nannouncement = \"a.mp3\"\n"),
            4,
            "the day-of-week field `Mon-Sam` is wrong",
        ),
        (
            format!("{GOOD}at = \"1 tháng 12\"\nannouncement = \"a.mp3\"\n"),
            4,
            "`at` must be a local date and time",
        ),
        (
            format!("{GOOD}at = 2026-12-01T07:00:00+07:00\nannouncement = \"a.mp3\"\n"),
            4,
            "has a UTC offset",
        ),
        (
            format!("{GOOD}cron = \"0 0 6 * * *\"\nannouncement = \"a.mp3\"\nvalid_from = \"2026-13-01\"\n"),
            6,
            "`valid_from` must be a date",
        ),
        (
            format!("{GOOD}cron = \"0 0 6 * * *\"\nannouncement = \"a.mp3\"\nrepeat = {{ times = 2 }}\n"),
            6,
            "`repeat` needs `gap_minutes`",
        ),
        (
            format!("{GOOD}cron = \"0 0 6 * * *\"\nannouncement = \"a.mp3\"\nrepeat = {{ times = 2, gap = 5 }}\n"),
            6,
            "unknown key `gap` in `repeat`",
        ),
        (
            format!("{GOOD}cron = \"0 0 6 * * *\"\nannouncement = \"a.mp3\"\nexpires_in_minutes = 0\n"),
            6,
            "`expires_in_minutes` must be a whole number of minutes from 1 to 1440",
        ),
        (
            "[[programme]]\nname = \"\"\nzones = [\"Xã Demo\"]\ncron = \"0 0 6 * * *\"\nannouncement = \"a.mp3\"\n".into(),
            2,
            "`name` must be 1 to 100 characters; it has 0",
        ),
        (
            "[[programme]]\nname = \"Bản tin\"\nzones = \"Xã Demo\"\ncron = \"0 0 6 * * *\"\nannouncement = \"a.mp3\"\n".into(),
            3,
            "`zones` must be a list of zone names",
        ),
        (
            "[[programme]]\nname = \"Bản tin\"\nzones = [\n  \"Xã Demo\",\n  42,\n]\ncron = \"0 0 6 * * *\"\nannouncement = \"a.mp3\"\n".into(),
            5,
            "`zones` must hold zone names in quotes; found integer",
        ),
        (
            "# one table, not a list\n[programme]\nname = \"Bản tin\"\n".into(),
            2,
            "`programme` must be a list of [[programme]] tables",
        ),
        (
            format!("title = \"Chương trình\"\n{GOOD}cron = \"0 0 6 * * *\"\nannouncement = \"a.mp3\"\n"),
            1,
            "unknown key `title` at the top of the file",
        ),
        (
            format!("{GOOD}cron = \"0 0 6 * * *\"\nannouncement = \"a.mp3\"\n\n{GOOD}cron = \"0 0 17 * * *\"\nannouncement = \"a.mp3\"\n"),
            7,
            "the programme on line 1 is also named `Bản tin sáng`",
        ),
    ];
    for (text, line, words) in cases {
        let (got_line, message) = one_error(&text);
        assert!(
            message.contains(words),
            "{message:?} should say {words:?}\n{text}"
        );
        assert_eq!(got_line, line, "{message}\n{text}");
    }
}

#[test]
fn a_programme_reads_literals_paths_and_zone_lines() {
    let text = "\n[[programme]]\nname = \"Thông báo tiêm chủng\"\nzones = [\n  \"Xã Demo / Bản Phiêng\",\n  \"Thôn Cốc Lầy\",\n]\n\
                at = 2026-06-15T07:00:00\nannouncement = \"../demo/./thong-bao-mau.mp3\"\npriority = \"priority\"\n\
                valid_until = 2026-06-15\n";
    let specs = parse_text(text).unwrap();
    let s = &specs[0];
    assert_eq!(s.line, 2);
    assert_eq!(
        s.zones,
        [
            ("Xã Demo / Bản Phiêng".to_string(), 5),
            ("Thôn Cốc Lầy".to_string(), 6)
        ]
    );
    assert_eq!(
        s.recurrence.rule,
        TimeRule::Once {
            at: NaiveDate::from_ymd_opt(2026, 6, 15)
                .unwrap()
                .and_hms_opt(7, 0, 0)
                .unwrap()
        }
    );
    assert_eq!(
        s.recurrence.valid_until,
        NaiveDate::from_ymd_opt(2026, 6, 15)
    );
    assert_eq!(s.announcement, PathBuf::from("demo/thong-bao-mau.mp3"));
    assert_eq!(s.priority, Priority::Priority);
    assert_eq!(s.file, PathBuf::from("schedules/thu.toml"));
    // A file with no programme is empty, not an error.
    assert_eq!(parse_text("# nothing yet\n").unwrap(), []);
}

#[test]
fn a_missing_folder_is_one_error_for_the_folder() {
    let errors = load_dir(Path::new("/nonexistent/schedules")).unwrap_err();
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].line, 0);
    assert!(errors[0]
        .message
        .contains("cannot read the schedules folder"));
}
