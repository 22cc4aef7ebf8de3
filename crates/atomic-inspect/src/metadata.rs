//! `atomic diff -m`: two engines' descriptions (inspect JSON) of images or containers, with
//! everything they agree on removed, as the original's CompareMetaData did: keys equal on both
//! sides go (recursively), lists are equal when they hold the same items in any order, and a
//! null list equals an empty one (Docker writes either).

use serde_json::{Map, Value};

/// What only `a` has (or has differently), and what only `b` has.
pub fn unique(a: &Value, b: &Value) -> (Value, Value) {
    match prune(a, b) {
        Some((x, y)) => (x, y),
        None => (Value::Object(Map::new()), Value::Object(Map::new())),
    }
}

/// `None` when the two are the same; otherwise each side without what both share.
fn prune(a: &Value, b: &Value) -> Option<(Value, Value)> {
    if same(a, b) {
        return None;
    }
    match (a, b) {
        (Value::Object(ma), Value::Object(mb)) => {
            let mut oa = Map::new();
            let mut ob = Map::new();
            for (k, x) in ma {
                match mb.get(k) {
                    Some(y) => {
                        if let Some((px, py)) = prune(x, y) {
                            oa.insert(k.clone(), px);
                            ob.insert(k.clone(), py);
                        }
                    }
                    None => {
                        oa.insert(k.clone(), x.clone());
                    }
                }
            }
            for (k, y) in mb {
                if !ma.contains_key(k) {
                    ob.insert(k.clone(), y.clone());
                }
            }
            Some((Value::Object(oa), Value::Object(ob)))
        }
        _ => Some((a.clone(), b.clone())),
    }
}

fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Array(x), Value::Array(y)) => {
            x.iter().all(|i| y.contains(i)) && y.iter().all(|i| x.contains(i))
        }
        (Value::Null, Value::Array(v)) | (Value::Array(v), Value::Null) => v.is_empty(),
        _ => a == b,
    }
}

/// Is there anything left on either side?
pub fn is_empty(v: &Value) -> bool {
    match v {
        Value::Object(m) => m.is_empty(),
        Value::Null => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_differences_remain() {
        let cases = vec![
            (
                "equal",
                json!({"Id": "x", "Config": {"Env": ["A=1"]}}),
                json!({"Id": "x", "Config": {"Env": ["A=1"]}}),
                json!({}),
                json!({}),
            ),
            (
                "nested label",
                json!({"Id": "1", "Config": {"Labels": {"a": "1", "b": "2"}, "Cmd": ["sh"]}}),
                json!({"Id": "2", "Config": {"Labels": {"a": "1", "b": "3"}, "Cmd": ["sh"]}}),
                json!({"Id": "1", "Config": {"Labels": {"b": "2"}}}),
                json!({"Id": "2", "Config": {"Labels": {"b": "3"}}}),
            ),
            (
                "lists as sets, null as empty",
                json!({"Env": ["A=1", "B=2"], "Volumes": null}),
                json!({"Env": ["B=2", "A=1"], "Volumes": []}),
                json!({}),
                json!({}),
            ),
            (
                "keys on one side",
                json!({"Only": 1, "Both": true}),
                json!({"Both": true, "Other": [1]}),
                json!({"Only": 1}),
                json!({"Other": [1]}),
            ),
            (
                "different lists kept whole",
                json!({"Cmd": ["a", "b"]}),
                json!({"Cmd": ["a"]}),
                json!({"Cmd": ["a", "b"]}),
                json!({"Cmd": ["a"]}),
            ),
        ];
        for (name, a, b, want_a, want_b) in cases {
            let (got_a, got_b) = unique(&a, &b);
            assert_eq!(got_a, want_a, "{name}");
            assert_eq!(got_b, want_b, "{name}");
        }
        assert!(is_empty(&json!({})) && !is_empty(&json!({"a": 1})));
    }
}
