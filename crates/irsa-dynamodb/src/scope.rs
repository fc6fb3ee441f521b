//! Where the tables live, and the names and ARNs a request may use for them.

use crate::error::MapError;

/// The parts of the tables' ARNs: the gateway's partition, region and account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    /// `aws`, `aws-cn`, …
    pub partition: String,
    /// The region the gateway serves.
    pub region: String,
    /// The 12-digit account id.
    pub account: String,
}

impl Scope {
    /// `arn:PARTITION:dynamodb:REGION:ACCOUNT:table/NAME`.
    pub fn table_arn(&self, table: &str) -> String {
        // Pieces pushed into one buffer of the ARN's length (no formatting machinery:
        // this runs for every request).
        let pieces = [
            "arn:",
            &self.partition,
            ":dynamodb:",
            &self.region,
            ":",
            &self.account,
            ":table/",
            table,
        ];
        let mut arn = String::with_capacity(pieces.iter().map(|p| p.len()).sum());
        for p in pieces {
            arn.push_str(p);
        }
        arn
    }

    /// `arn:PARTITION:dynamodb::ACCOUNT:global-table/NAME` (global tables have no region).
    pub fn global_table_arn(&self, name: &str) -> String {
        format!(
            "arn:{}:dynamodb::{}:global-table/{name}",
            self.partition, self.account
        )
    }

    /// The table a `TableName` value names: a table name, or the ARN of a table of this
    /// scope (`arn:PARTITION:dynamodb:REGION:ACCOUNT:table/NAME`, nothing after the name).
    pub fn table_ref<'a>(&self, value: &'a str, member: &str) -> Result<&'a str, MapError> {
        if value.starts_with("arn:") {
            match self.scoped_resource(value, member)?.strip_prefix("table/") {
                Some(name) if valid_name(name) => Ok(name),
                _ => Err(self.foreign_arn(value, member)),
            }
        } else {
            check_name(value, member)?;
            Ok(value)
        }
    }

    /// An ARN-valued member (`ResourceArn`, `BackupArn`, …): a table of this scope or one of
    /// its indexes, backups, streams, exports or imports.
    pub fn resource_arn(&self, value: &str, member: &str) -> Result<String, MapError> {
        let resource = self.scoped_resource(value, member)?;
        let mut parts = resource.split('/');
        let id_ok = |id: &str| {
            !id.is_empty()
                && id.len() <= 255
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"_.-:".contains(&b))
        };
        let ok = match (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) {
            (Some("table"), Some(name), None, None, None) => valid_name(name),
            (Some("table"), Some(name), Some(kind), Some(id), None) => {
                valid_name(name)
                    && ["index", "backup", "stream", "export", "import"].contains(&kind)
                    && id_ok(id)
            }
            _ => false,
        };
        if ok {
            Ok(value.to_owned())
        } else {
            Err(self.foreign_arn(value, member))
        }
    }

    /// The resource part of a DynamoDB ARN of this scope (`table/…`): the partition, region
    /// and account must be the gateway's, else a table of another region or account would
    /// be authorized as written while the policies name this one.
    fn scoped_resource<'a>(&self, value: &'a str, member: &str) -> Result<&'a str, MapError> {
        let mut it = value.splitn(6, ':');
        match (
            it.next(),
            it.next(),
            it.next(),
            it.next(),
            it.next(),
            it.next(),
        ) {
            (Some("arn"), Some(p), Some("dynamodb"), Some(r), Some(a), Some(resource))
                if p == self.partition && r == self.region && a == self.account =>
            {
                Ok(resource)
            }
            _ => Err(self.foreign_arn(value, member)),
        }
    }

    fn foreign_arn(&self, value: &str, member: &str) -> MapError {
        MapError::Validation(format!(
            "Invalid {member}: '{}' is not the ARN of a DynamoDB table or table resource in partition {}, region {} and account {}",
            shown(value),
            self.partition,
            self.region,
            self.account
        ))
    }
}

/// A value quoted in a validation message, shortened when long.
pub(crate) fn shown(value: &str) -> String {
    const MAX: usize = 256;
    if value.len() <= MAX {
        return value.to_owned();
    }
    let mut end = MAX;
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", value.get(..end).unwrap_or_default())
}

/// Checks a table or index name: 3 to 255 characters of `[a-zA-Z0-9_.-]`, in DynamoDB's
/// wording.
pub fn check_name(value: &str, member: &str) -> Result<(), MapError> {
    let constraint = if !value
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
    {
        "Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+"
    } else if value.len() < 3 {
        "Member must have length greater than or equal to 3"
    } else if value.len() > 255 {
        "Member must have length less than or equal to 255"
    } else {
        return Ok(());
    };
    Err(MapError::Validation(format!(
        "1 validation error detected: Value '{}' at '{member}' failed to satisfy constraint: {constraint}",
        shown(value)
    )))
}

fn valid_name(value: &str) -> bool {
    check_name(value, "").is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope() -> Scope {
        Scope {
            partition: "aws".into(),
            region: "us-east-1".into(),
            account: "111122223333".into(),
        }
    }

    #[test]
    fn table_refs() {
        let s = scope();
        assert_eq!(s.table_ref("Books", "tableName"), Ok("Books"));
        assert_eq!(
            s.table_ref(
                "arn:aws:dynamodb:us-east-1:111122223333:table/Books",
                "tableName"
            ),
            Ok("Books")
        );
        for bad in [
            "arn:aws:dynamodb:us-west-2:111122223333:table/Books",
            "arn:aws:dynamodb:us-east-1:444455556666:table/Books",
            "arn:aws-cn:dynamodb:us-east-1:111122223333:table/Books",
            "arn:aws:dynamodb:us-east-1:111122223333:table/Books/index/x",
            "arn:aws:dynamodb:us-east-1:111122223333:table/*",
            "Bo",
            "Books*",
            "Books/index/x",
        ] {
            assert!(s.table_ref(bad, "tableName").is_err(), "{bad}");
        }
        assert!(
            s.resource_arn(
                "arn:aws:dynamodb:us-east-1:111122223333:table/Books/backup/01",
                "backupArn"
            )
            .is_ok()
        );
        assert!(
            s.resource_arn(
                "arn:aws:dynamodb:us-east-1:111122223333:table/Books/other/01",
                "backupArn"
            )
            .is_err()
        );
    }
}
