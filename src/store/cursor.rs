//! [`Cursor`]: an opaque page position, the sort key of the last item a page returned,
//! base64url-encoded. It names no organization or partition (those always come from the
//! caller), so an edited cursor can only move within the caller's own data; one that
//! does not decode to a sort key of the expected kind is refused.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cursor {
    sort_key: String,
}

impl Cursor {
    pub fn after(sort_key: &str) -> Self {
        Cursor {
            sort_key: sort_key.to_owned(),
        }
    }

    pub fn sort_key(&self) -> &str {
        &self.sort_key
    }

    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(&self.sort_key)
    }

    /// The cursor `text` encodes, if it is a sort key `prefix` followed by a UUID.
    pub fn decode(text: &str, prefix: &str) -> Option<Self> {
        let bytes = URL_SAFE_NO_PAD.decode(text).ok()?;
        let sort_key = String::from_utf8(bytes).ok()?;
        let id = sort_key.strip_prefix(prefix)?;
        uuid::Uuid::try_parse(id).ok()?;
        // Only the canonical lowercase form sorts like the stored keys.
        (id == id.to_ascii_lowercase() && id.len() == 36).then_some(Cursor { sort_key })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SK: &str = "JOB#019ac9f0-0000-7000-8000-000000000001";

    #[test]
    fn round_trips() {
        let cursor = Cursor::after(SK);
        assert_eq!(Cursor::decode(&cursor.encode(), "JOB#"), Some(cursor));
    }

    #[test]
    fn refuses_anything_but_a_sort_key_of_the_expected_kind() {
        let encode = |text: &str| URL_SAFE_NO_PAD.encode(text);
        assert_eq!(Cursor::decode("not base64!", "JOB#"), None);
        assert_eq!(Cursor::decode(&encode(SK), "ERROR#"), None);
        assert_eq!(Cursor::decode(&encode("JOB#not-a-uuid"), "JOB#"), None);
        assert_eq!(Cursor::decode(&encode("ORG#other#JOB#x"), "JOB#"), None);
        assert_eq!(Cursor::decode(&encode(&SK.to_uppercase()), "JOB#"), None);
        assert_eq!(
            Cursor::decode(&URL_SAFE_NO_PAD.encode([0xff, 0xfe]), "JOB#"),
            None
        );
    }
}
