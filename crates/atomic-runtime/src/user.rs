//! `-u name|uid[:group|gid]` resolved through the image's `/etc/passwd` and `/etc/group`, the
//! way runc's `GetExecUser` (and so docker) does it: numeric ids need no entry; a name must
//! have one; the primary group comes from passwd unless a group is given; supplementary groups
//! are the `/etc/group` memberships of the user's name, unless a group is given.

/// The ids and home directory a container process runs with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedUser {
    pub uid: u32,
    pub gid: u32,
    pub additional_gids: Vec<u32>,
    pub home: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UserError {
    #[error("unable to find user {0}: no matching entries in passwd file")]
    NoUser(String),
    #[error("unable to find group {0}: no matching entries in group file")]
    NoGroup(String),
}

struct Passwd<'a> {
    name: &'a str,
    uid: u32,
    gid: u32,
    home: &'a str,
}

fn passwd_entries(file: &str) -> impl Iterator<Item = Passwd<'_>> {
    file.lines().filter_map(|line| {
        let f: Vec<&str> = line.split(':').collect();
        if line.starts_with('#') || f.len() < 6 {
            return None;
        }
        Some(Passwd {
            name: f[0],
            uid: f[2].parse().ok()?,
            gid: f[3].parse().ok()?,
            home: f[5],
        })
    })
}

/// (name, gid, members) of each `/etc/group` line.
fn group_entries(file: &str) -> impl Iterator<Item = (&str, u32, Vec<&str>)> {
    file.lines().filter_map(|line| {
        let f: Vec<&str> = line.split(':').collect();
        if line.starts_with('#') || f.len() < 3 {
            return None;
        }
        let members = f
            .get(3)
            .map(|m| m.split(',').filter(|m| !m.is_empty()).collect())
            .unwrap_or_default();
        Some((f[0], f[2].parse().ok()?, members))
    })
}

/// Resolve `spec` (`""` is root) against the image's passwd and group files (absent files are
/// empty).
pub fn resolve(
    spec: &str,
    passwd: Option<&str>,
    group: Option<&str>,
) -> Result<ResolvedUser, UserError> {
    let (user_part, group_part) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let user_part = if user_part.is_empty() { "0" } else { user_part };
    let passwd = passwd.unwrap_or("");
    let group = group.unwrap_or("");
    let numeric = user_part.parse::<u32>().ok();
    let entry = passwd_entries(passwd).find(|p| match numeric {
        Some(uid) => p.uid == uid,
        None => p.name == user_part,
    });
    let (uid, mut gid, home, name) = match (&entry, numeric) {
        (Some(p), _) => (p.uid, p.gid, p.home.to_string(), Some(p.name)),
        (None, Some(uid)) => (uid, 0, "/".to_string(), None),
        (None, None) => return Err(UserError::NoUser(user_part.to_string())),
    };
    let mut additional_gids = Vec::new();
    match group_part.filter(|g| !g.is_empty()) {
        Some(g) => {
            gid = match g.parse::<u32>() {
                Ok(n) => n,
                Err(_) => group_entries(group)
                    .find(|(n, _, _)| *n == g)
                    .map(|(_, id, _)| id)
                    .ok_or_else(|| UserError::NoGroup(g.to_string()))?,
            }
        }
        None => {
            if let Some(name) = name {
                additional_gids = group_entries(group)
                    .filter(|(_, id, members)| *id != gid && members.contains(&name))
                    .map(|(_, id, _)| id)
                    .collect();
            }
        }
    }
    Ok(ResolvedUser {
        uid,
        gid,
        additional_gids,
        home,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\n\
        # comment\n\
        daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n\
        alice:x:1000:1000:Alice:/home/alice:/bin/sh\n";
    const GROUP: &str =
        "root:x:0:\nwheel:x:10:alice,bob\nalice:x:1000:\naudio:x:29:alice\nstaff:x:50:bob\n";

    #[test]
    fn resolves_like_runc() {
        type Case<'a> = (&'a str, u32, u32, &'a [u32], &'a str);
        let cases: &[Case] = &[
            ("", 0, 0, &[], "/root"),
            ("root", 0, 0, &[], "/root"),
            ("alice", 1000, 1000, &[10, 29], "/home/alice"),
            ("1000", 1000, 1000, &[10, 29], "/home/alice"),
            ("alice:staff", 1000, 50, &[], "/home/alice"),
            ("alice:7", 1000, 7, &[], "/home/alice"),
            ("1234", 1234, 0, &[], "/"),
            ("1234:1234", 1234, 1234, &[], "/"),
            ("daemon", 1, 1, &[], "/usr/sbin"),
        ];
        for (spec, uid, gid, groups, home) in cases {
            let got = resolve(spec, Some(PASSWD), Some(GROUP)).unwrap();
            let want = ResolvedUser {
                uid: *uid,
                gid: *gid,
                additional_gids: groups.to_vec(),
                home: home.to_string(),
            };
            assert_eq!(got, want, "{spec:?}");
        }
    }

    #[test]
    fn unknown_names_are_errors_with_dockers_message() {
        let err = resolve("bob", Some(PASSWD), Some(GROUP)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "unable to find user bob: no matching entries in passwd file"
        );
        let err = resolve("alice:nogroup", Some(PASSWD), Some(GROUP)).unwrap_err();
        assert_eq!(err, UserError::NoGroup("nogroup".into()));
        assert!(resolve("alice", None, None).is_err());
        assert_eq!(resolve("5:6", None, None).unwrap().gid, 6);
    }
}
