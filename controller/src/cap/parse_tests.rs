//! The CAP 1.2 specification's example alerts, a Vietnamese flood warning, and a table of
//! messages the schema refuses, each with the element its error names.

use super::geo::Shape;
use super::model::{MsgType, Severity, Status, Urgency};
use super::parse::{parse, CapError};

pub(super) const HOMELAND: &str = include_str!("../../tests/fixtures/cap/homeland-security.xml");
pub(super) const THUNDERSTORM: &str = include_str!("../../tests/fixtures/cap/thunderstorm.xml");
pub(super) const EARTHQUAKE: &str = include_str!("../../tests/fixtures/cap/earthquake.xml");
pub(super) const AMBER: &str = include_str!("../../tests/fixtures/cap/amber.xml");
pub(super) const FLOOD_VI: &str = include_str!("../../tests/fixtures/cap/flood-vi.xml");

#[test]
fn the_specifications_examples_are_read() {
    let a = parse(HOMELAND).unwrap();
    assert_eq!(a.identifier, "43b080713727");
    assert_eq!(a.sender, "hsas@dhs.gov");
    assert_eq!(a.status, Status::Actual);
    assert_eq!(a.info[0].language, "en-US");
    assert_eq!(a.info[0].resources[0].mime_type, "image/gif");
    assert!(!a.info[0].resources[0].is_audio());
    assert!(a.info[0].areas[0].shapes.is_empty());

    let t = parse(THUNDERSTORM).unwrap();
    assert_eq!(t.info[0].severity, Severity::Severe);
    assert_eq!(t.info[0].urgency, Urgency::Immediate);
    assert_eq!(
        t.info[0].expires.unwrap().to_rfc3339(),
        "2003-06-17T16:00:00-07:00"
    );
    let Shape::Polygon(p) = &t.info[0].areas[0].shapes[0] else {
        panic!("a polygon")
    };
    assert_eq!(p.len(), 5);
    assert_eq!(p[0], (38.47, -120.14));

    let e = parse(EARTHQUAKE).unwrap();
    assert_eq!(e.msg_type, MsgType::Update);
    assert_eq!(e.references.len(), 1);
    assert_eq!(e.references[0].identifier, "TRI13970876.1");
    assert_eq!(e.references[0].sender, "trinet@caltech.edu");
    assert_eq!(
        e.info[0].areas[0].shapes[0],
        Shape::Circle {
            latitude: 32.9525,
            longitude: -115.5527,
            radius_km: 0.0
        }
    );

    let am = parse(AMBER).unwrap();
    assert_eq!(am.info.len(), 2);
    assert_eq!(am.info[1].language, "es-US");
    assert_eq!(am.info[1].event, "Abducción de Niño");
}

#[test]
fn the_vietnamese_flood_warning_is_read() {
    let f = parse(FLOOD_VI).unwrap();
    assert_eq!(f.info.len(), 2);
    assert_eq!(f.info[1].language, "vi-VN");
    assert_eq!(f.info[1].headline.as_deref(), Some("Cảnh báo lũ quét"));
    assert!(f.info[1]
        .description
        .as_deref()
        .unwrap()
        .contains("Bản Khe"));
}

/// The thunderstorm example with one change.
fn thunderstorm_with(from: &str, to: &str) -> String {
    assert!(THUNDERSTORM.contains(from), "{from}");
    THUNDERSTORM.replacen(from, to, 1)
}

#[test]
fn what_the_schema_refuses_is_refused_naming_the_element() {
    let cases: Vec<(&str, String, &str)> = vec![
        ("missing identifier", thunderstorm_with("<identifier>KSTO1055887203</identifier>", ""), "<alert>/<identifier>"),
        ("missing sender", thunderstorm_with("<sender>KSTO@NWS.NOAA.GOV</sender>", ""), "<alert>/<sender>"),
        ("identifier with a space", thunderstorm_with("KSTO1055887203", "KSTO 1055887203"), "<alert>/<identifier>"),
        ("sent with Z", thunderstorm_with("2003-06-17T14:57:00-07:00", "2003-06-17T21:57:00Z"), "<alert>/<sent>"),
        ("sent not a time", thunderstorm_with("2003-06-17T14:57:00-07:00", "yesterday"), "<alert>/<sent>"),
        ("unknown status", thunderstorm_with("<status>Actual</status>", "<status>Real</status>"), "<alert>/<status>"),
        ("unknown msgType", thunderstorm_with("<msgType>Alert</msgType>", "<msgType>Warning</msgType>"), "<alert>/<msgType>"),
        ("missing scope", thunderstorm_with("<scope>Public</scope>", ""), "<alert>/<scope>"),
        ("Restricted without restriction", thunderstorm_with("<scope>Public</scope>", "<scope>Restricted</scope>"), "<alert>/<restriction>"),
        ("Private without addresses", thunderstorm_with("<scope>Public</scope>", "<scope>Private</scope>"), "<alert>/<addresses>"),
        ("missing category", thunderstorm_with("<category>Met</category>", ""), "<info>[1]/<category>"),
        ("unknown category", thunderstorm_with("<category>Met</category>", "<category>Weather</category>"), "<info>[1]/<category>"),
        ("missing event", thunderstorm_with("<event>SEVERE THUNDERSTORM</event>", ""), "<info>[1]/<event>"),
        ("unknown responseType", thunderstorm_with("<responseType>Shelter</responseType>", "<responseType>Hide</responseType>"), "<info>[1]/<responseType>"),
        ("unknown urgency", thunderstorm_with("<urgency>Immediate</urgency>", "<urgency>Now</urgency>"), "<info>[1]/<urgency>"),
        ("missing severity", thunderstorm_with("<severity>Severe</severity>", ""), "<info>[1]/<severity>"),
        ("unknown certainty", thunderstorm_with("<certainty>Observed</certainty>", "<certainty>Sure</certainty>"), "<info>[1]/<certainty>"),
        ("bad expires", thunderstorm_with("2003-06-17T16:00:00-07:00", "2003-06-17 16:00"), "<info>[1]/<expires>"),
        ("missing areaDesc", thunderstorm_with("<areaDesc>EXTREME NORTH CENTRAL TUOLUMNE COUNTY IN CALIFORNIA, EXTREME NORTHEASTERN CALAVERAS COUNTY IN CALIFORNIA, SOUTHWESTERN ALPINE COUNTY IN CALIFORNIA</areaDesc>", ""), "<info>[1]/<area>[1]/<areaDesc>"),
        ("open polygon", thunderstorm_with("38.62,-119.89 38.47,-120.14", "38.62,-119.89 38.40,-120.14"), "<info>[1]/<area>[1]/<polygon>[1]"),
        ("short polygon", thunderstorm_with("38.47,-120.14 38.34,-119.95 38.52,-119.74 38.62,-119.89 38.47,-120.14", "38.47,-120.14 38.34,-119.95 38.47,-120.14"), "<info>[1]/<area>[1]/<polygon>[1]"),
        ("polygon point out of range", thunderstorm_with("38.34,-119.95", "98.34,-119.95"), "<info>[1]/<area>[1]/<polygon>[1]"),
        ("circle without radius", thunderstorm_with("<polygon>", "<circle>38.47,-120.14</circle><polygon>"), "<info>[1]/<area>[1]/<circle>[1]"),
        ("bad references", thunderstorm_with("<scope>Public</scope>", "<scope>Public</scope><references>KSTO1</references>"), "<alert>/<references>"),
        ("resource without mimeType", thunderstorm_with("<area>", "<resource><resourceDesc>audio</resourceDesc></resource><area>"), "<info>[1]/<resource>[1]/<mimeType>"),
        ("another root", thunderstorm_with("<alert xmlns = \"urn:oasis:names:tc:emergency:cap:1.2\">", "<feed xmlns = \"urn:oasis:names:tc:emergency:cap:1.2\">").replace("</alert>", "</feed>"), "<feed>"),
        ("CAP 1.1", thunderstorm_with("cap:1.2", "cap:1.1"), "<alert>"),
    ];
    for (name, xml, element) in cases {
        match parse(&xml) {
            Err(CapError::Invalid { element: e, why }) => {
                assert_eq!(e, element, "{name}: {why}");
                assert!(!why.is_empty(), "{name}");
            }
            other => panic!("{name}: expected an error at {element}, got {other:?}"),
        }
    }
}

#[test]
fn malformed_xml_is_refused_with_a_clear_error() {
    for (name, xml) in [
        ("empty", String::new()),
        ("not XML", "flood!".to_string()),
        ("unclosed", THUNDERSTORM.replace("</alert>", "")),
        ("only an opening tag", "<alert>".to_string()),
        (
            "mismatched end",
            THUNDERSTORM.replacen("</status>", "</state>", 1),
        ),
    ] {
        match parse(&xml) {
            Err(e @ CapError::Malformed(_)) => {
                assert!(
                    e.to_string().starts_with("the XML is malformed"),
                    "{name}: {e}"
                )
            }
            other => panic!("{name}: expected malformed, got {other:?}"),
        }
    }
}

#[test]
fn a_prefixed_namespace_is_read_as_well() {
    let prefixed = THUNDERSTORM
        .replace(
            "<alert xmlns = \"urn:oasis:names:tc:emergency:cap:1.2\">",
            "<cap:alert xmlns:cap=\"urn:oasis:names:tc:emergency:cap:1.2\">",
        )
        .replace("</alert>", "</cap:alert>")
        .replace("<", "<cap:")
        .replace("<cap:/", "</cap:")
        .replace("<cap:?xml", "<?xml")
        .replace("<cap:cap:", "<cap:")
        .replace("</cap:cap:", "</cap:");
    let a = parse(&prefixed).unwrap_or_else(|e| panic!("{e}\n{prefixed}"));
    assert_eq!(a.identifier, "KSTO1055887203");
    assert_eq!(a.info[0].areas[0].shapes.len(), 1);
}
