//! CAP's shapes and the test "is this station inside": a polygon by ray casting (on latitude
//! and longitude as a plane, which is exact enough at a commune's scale), a circle by the
//! haversine distance on a sphere of the Earth's mean radius.

use serde::Serialize;

/// The Earth's mean radius, kilometres (IUGG).
const EARTH_RADIUS_KM: f64 = 6371.0088;

/// An `<area>`'s `<polygon>` or `<circle>`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Shape {
    /// Points as (latitude, longitude), the first repeated last.
    Polygon(Vec<(f64, f64)>),
    Circle {
        latitude: f64,
        longitude: f64,
        radius_km: f64,
    },
}

impl Shape {
    /// Whether the point (WGS 84 degrees) lies inside the shape (or on a circle's edge).
    pub fn contains(&self, latitude: f64, longitude: f64) -> bool {
        match self {
            Shape::Polygon(points) => in_polygon(points, latitude, longitude),
            Shape::Circle {
                latitude: clat,
                longitude: clon,
                radius_km,
            } => haversine_km(*clat, *clon, latitude, longitude) <= *radius_km,
        }
    }
}

/// Ray casting: a ray from the point towards growing longitude crosses the edges an odd number
/// of times exactly when the point is inside.
fn in_polygon(points: &[(f64, f64)], lat: f64, lon: f64) -> bool {
    let mut inside = false;
    for w in points.windows(2) {
        let ((lat1, lon1), (lat2, lon2)) = (w[0], w[1]);
        if (lat1 > lat) != (lat2 > lat) {
            let cross = lon1 + (lat - lat1) / (lat2 - lat1) * (lon2 - lon1);
            if lon < cross {
                inside = !inside;
            }
        }
    }
    inside
}

/// The great-circle distance between two points, kilometres.
pub fn haversine_km(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dp = p2 - p1;
    let dl = (lon2 - lon1).to_radians();
    let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_KM * a.sqrt().asin()
}

/// One "lat,lon" pair in range.
fn point(s: &str) -> Result<(f64, f64), String> {
    let (lat, lon) = s
        .split_once(',')
        .ok_or_else(|| format!("{s:?} is not a \"latitude,longitude\" pair"))?;
    let lat: f64 = lat
        .trim()
        .parse()
        .map_err(|_| format!("{s:?}: the latitude is not a number"))?;
    let lon: f64 = lon
        .trim()
        .parse()
        .map_err(|_| format!("{s:?}: the longitude is not a number"))?;
    if !(-90.0..=90.0).contains(&lat) || !(-180.0..=180.0).contains(&lon) {
        return Err(format!(
            "{s:?} is outside the Earth (latitude -90 to 90, longitude -180 to 180)"
        ));
    }
    Ok((lat, lon))
}

/// `<polygon>`: at least four "lat,lon" pairs separated by spaces, the first and last equal.
pub fn parse_polygon(s: &str) -> Result<Shape, String> {
    let points = s
        .split_whitespace()
        .map(point)
        .collect::<Result<Vec<_>, _>>()?;
    if points.len() < 4 {
        return Err(format!(
            "has {} points; a polygon has at least 4, the first repeated last",
            points.len()
        ));
    }
    if points.first() != points.last() {
        return Err("is not closed: its first and last points differ".into());
    }
    Ok(Shape::Polygon(points))
}

/// `<circle>`: "lat,lon radius", the radius in kilometres.
pub fn parse_circle(s: &str) -> Result<Shape, String> {
    let mut parts = s.split_whitespace();
    let (Some(centre), Some(radius), None) = (parts.next(), parts.next(), parts.next()) else {
        return Err(format!("{s:?} is not \"latitude,longitude radius\""));
    };
    let (latitude, longitude) = point(centre)?;
    let radius_km: f64 = radius
        .parse()
        .ok()
        .filter(|r: &f64| r.is_finite() && *r >= 0.0)
        .ok_or_else(|| format!("the radius {radius:?} is not a number of kilometres"))?;
    Ok(Shape::Circle {
        latitude,
        longitude,
        radius_km,
    })
}
