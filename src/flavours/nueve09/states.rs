//! The States Catalog: the 32 Mexican states a sub-client's `state` must be one of.
//!
//! The vendor's documentation points to a "Get States Catalog" page that was never found
//! (docs/nueve09.md), so the path, the shape and the codes are our design: `GET /catalogs/states`
//! in the create envelope, with the common Mexican abbreviations (the seed's example sends `CDMX`,
//! so they are not the ISO 3166-2 codes).

use serde_json::{json, Value};

use super::{ok, token, Error};
use crate::app::App;
use crate::http::{Request, Response};

/// (code, name), in the order of docs/nueve09.md.
pub const STATES: [(&str, &str); 32] = [
    ("AGS", "Aguascalientes"),
    ("BC", "Baja California"),
    ("BCS", "Baja California Sur"),
    ("CAMP", "Campeche"),
    ("CHIS", "Chiapas"),
    ("CHIH", "Chihuahua"),
    ("CDMX", "Ciudad de México"),
    ("COAH", "Coahuila"),
    ("COL", "Colima"),
    ("DGO", "Durango"),
    ("GTO", "Guanajuato"),
    ("GRO", "Guerrero"),
    ("HGO", "Hidalgo"),
    ("JAL", "Jalisco"),
    ("MEX", "Estado de México"),
    ("MICH", "Michoacán"),
    ("MOR", "Morelos"),
    ("NAY", "Nayarit"),
    ("NL", "Nuevo León"),
    ("OAX", "Oaxaca"),
    ("PUE", "Puebla"),
    ("QRO", "Querétaro"),
    ("QROO", "Quintana Roo"),
    ("SLP", "San Luis Potosí"),
    ("SIN", "Sinaloa"),
    ("SON", "Sonora"),
    ("TAB", "Tabasco"),
    ("TAMPS", "Tamaulipas"),
    ("TLAX", "Tlaxcala"),
    ("VER", "Veracruz"),
    ("YUC", "Yucatán"),
    ("ZAC", "Zacatecas"),
];

/// `GET /catalogs/states` (Bearer token): every state, code and name.
pub fn list_states(app: &App, req: &Request) -> Result<Response, Error> {
    token::authenticate(app, req)?;
    let states: Vec<Value> = STATES
        .iter()
        .map(|(code, name)| json!({"code": code, "name": name}))
        .collect();
    Ok(ok(json!({ "states": states })))
}

/// The code of the state that `text` names, by code or by name, ignoring case and accents
/// (`cdmx`, `Ciudad de Mexico` → `CDMX`).
pub fn code_of(text: &str) -> Option<&'static str> {
    let wanted = fold(text.trim());
    STATES
        .iter()
        .find(|(code, name)| fold(code) == wanted || fold(name) == wanted)
        .map(|(code, _)| *code)
}

/// True when `text` is a code or a name exactly as the catalog lists it (`code_of` also
/// takes another case and names without their accents, which are recorded).
pub fn is_listed_as(text: &str) -> bool {
    STATES
        .iter()
        .any(|(code, name)| text == *code || text == *name)
}

/// Lower case without the accents Spanish state names carry.
fn fold(text: &str) -> String {
    text.chars()
        .flat_map(char::to_lowercase)
        .map(|c| match c {
            'á' => 'a',
            'é' => 'e',
            'í' => 'i',
            'ó' => 'o',
            'ú' | 'ü' => 'u',
            other => other,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_states_by_code_or_name() {
        assert_eq!(code_of("CDMX"), Some("CDMX"));
        assert_eq!(code_of("cdmx"), Some("CDMX"));
        assert_eq!(code_of(" Nuevo Leon "), Some("NL"));
        assert_eq!(code_of("QUERÉTARO"), Some("QRO"));
        assert_eq!(code_of("Texas"), None);
        assert_eq!(code_of(""), None);
    }

    #[test]
    fn codes_and_names_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for (code, name) in STATES {
            assert!(seen.insert(fold(code)), "{code}");
            assert!(seen.insert(fold(name)), "{name}");
        }
    }
}
