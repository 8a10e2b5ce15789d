//! Database URLs: which backend, where, and how to print one without its password.

use std::path::PathBuf;

use crate::PersistenceError;

/// The database the trader uses when none is configured: `mtq.db` in the working directory.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://mtq.db";

/// A parsed database URL.
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// A SQLite file (created if missing). `sqlite://mtq.db`, `sqlite:///var/lib/mtq/mtq.db`,
    /// `sqlite:mtq.db`, or a bare path ending in `.db`, `.sqlite` or `.sqlite3`.
    Sqlite(PathBuf),
    /// A PostgreSQL connection string as libpq takes it (`postgres://` or `postgresql://`).
    Postgres(String),
}

impl DatabaseUrl {
    /// Parses `url`; the error says which forms are accepted.
    pub fn parse(url: &str) -> Result<Self, PersistenceError> {
        let url = url.trim();
        let invalid = |reason| PersistenceError::InvalidUrl {
            url: redact(url),
            reason,
        };
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Self::Postgres(url.to_string()));
        }
        let path = if let Some(rest) = url.strip_prefix("sqlite://") {
            rest
        } else if let Some(rest) = url.strip_prefix("sqlite:") {
            rest
        } else if [".db", ".sqlite", ".sqlite3"]
            .iter()
            .any(|ext| url.ends_with(ext))
        {
            url
        } else if url.contains("://") {
            return Err(invalid("only sqlite and postgres databases are supported"));
        } else {
            return Err(invalid(
                "a bare path must end in .db, .sqlite or .sqlite3; or prefix it with sqlite://",
            ));
        };
        if path.is_empty() {
            return Err(invalid("the SQLite file path is empty"));
        }
        Ok(Self::Sqlite(PathBuf::from(path)))
    }

    /// The backend's name, for logs and messages.
    pub fn backend(&self) -> &'static str {
        match self {
            Self::Sqlite(_) => "sqlite",
            Self::Postgres(_) => "postgres",
        }
    }

    /// The URL with any password replaced by `***`, safe to log.
    pub fn redacted(&self) -> String {
        match self {
            Self::Sqlite(path) => format!("sqlite://{}", path.display()),
            Self::Postgres(url) => redact(url),
        }
    }
}

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print a password, even in debug output.
        write!(f, "DatabaseUrl({})", self.redacted())
    }
}

impl std::fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.redacted())
    }
}

/// Replaces the password of `scheme://user:password@host/...` and of a `password=` parameter.
pub fn redact(url: &str) -> String {
    let mut out = url.to_string();
    if let Some(scheme_end) = out.find("://") {
        let rest_start = scheme_end + 3;
        let authority_end = out[rest_start..]
            .find(['/', '?'])
            .map_or(out.len(), |i| rest_start + i);
        if let Some(at) = out[rest_start..authority_end].rfind('@') {
            let userinfo = &out[rest_start..rest_start + at];
            if let Some(colon) = userinfo.find(':') {
                let start = rest_start + colon + 1;
                out.replace_range(start..rest_start + at, "***");
            }
        }
    }
    if let Some(p) = out.find("password=") {
        let start = p + "password=".len();
        let end = out[start..].find('&').map_or(out.len(), |i| start + i);
        out.replace_range(start..end, "***");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_urls_and_bare_paths_name_a_file() {
        let want = DatabaseUrl::Sqlite(PathBuf::from("mtq.db"));
        assert_eq!(DatabaseUrl::parse("sqlite://mtq.db").unwrap(), want);
        assert_eq!(DatabaseUrl::parse("sqlite:mtq.db").unwrap(), want);
        assert_eq!(DatabaseUrl::parse("mtq.db").unwrap(), want);
        assert_eq!(
            DatabaseUrl::parse("sqlite:///var/lib/mtq.db").unwrap(),
            DatabaseUrl::Sqlite(PathBuf::from("/var/lib/mtq.db"))
        );
        assert_eq!(
            DatabaseUrl::parse(DEFAULT_DATABASE_URL).unwrap().backend(),
            "sqlite"
        );
    }

    #[test]
    fn unknown_schemes_and_empty_paths_are_refused_with_a_reason() {
        for bad in ["mysql://x/y", "sqlite://", "notes.txt", ""] {
            let err = DatabaseUrl::parse(bad).unwrap_err().to_string();
            assert!(err.contains("expected sqlite://"), "{err}");
        }
    }

    #[test]
    fn passwords_never_appear_in_printed_urls() {
        let url = DatabaseUrl::parse("postgres://mtq:s3cret@db:5432/mtq").unwrap();
        assert_eq!(url.to_string(), "postgres://mtq:***@db:5432/mtq");
        assert!(!format!("{url:?}").contains("s3cret"));
        assert_eq!(
            redact("postgres://db/mtq?user=a&password=s3cret&sslmode=require"),
            "postgres://db/mtq?user=a&password=***&sslmode=require"
        );
        let err = DatabaseUrl::parse("mysql://u:s3cret@h/db").unwrap_err();
        assert!(!err.to_string().contains("s3cret"));
    }
}
