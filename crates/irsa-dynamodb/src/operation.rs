//! The operations of DynamoDB's `DynamoDB_20120810` JSON API.

use std::fmt;

use crate::error::MapError;

/// The `X-Amz-Target` prefix of DynamoDB's JSON protocol.
pub const TARGET_PREFIX: &str = "DynamoDB_20120810.";

macro_rules! operations {
    ($($op:ident),* $(,)?) => {
        /// A DynamoDB operation (`X-Amz-Target: DynamoDB_20120810.<Op>`).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[allow(missing_docs)]
        pub enum Operation { $($op),* }

        impl Operation {
            /// Every operation.
            pub const ALL: &'static [Operation] = &[$(Operation::$op),*];

            /// The operation's name, as in `X-Amz-Target` and in its IAM action.
            pub fn name(self) -> &'static str {
                match self { $(Operation::$op => stringify!($op)),* }
            }

            /// The `X-Amz-Target` value, `DynamoDB_20120810.<Op>`.
            pub fn target_value(self) -> &'static str {
                match self { $(Operation::$op => concat!("DynamoDB_20120810.", stringify!($op))),* }
            }
        }
    };
}

operations! {
    BatchExecuteStatement, BatchGetItem, BatchWriteItem, CreateBackup, CreateGlobalTable,
    CreateTable, DeleteBackup, DeleteItem, DeleteResourcePolicy, DeleteTable, DescribeBackup,
    DescribeContinuousBackups, DescribeContributorInsights, DescribeEndpoints, DescribeExport,
    DescribeGlobalTable, DescribeGlobalTableSettings, DescribeImport,
    DescribeKinesisStreamingDestination, DescribeLimits, DescribeTable,
    DescribeTableReplicaAutoScaling, DescribeTimeToLive, DisableKinesisStreamingDestination,
    EnableKinesisStreamingDestination, ExecuteStatement, ExecuteTransaction,
    ExportTableToPointInTime, GetItem, GetResourcePolicy, ImportTable, ListBackups,
    ListContributorInsights, ListExports, ListGlobalTables, ListImports, ListTables,
    ListTagsOfResource, PutItem, PutResourcePolicy, Query, RestoreTableFromBackup,
    RestoreTableToPointInTime, Scan, TagResource, TransactGetItems, TransactWriteItems,
    UntagResource, UpdateContinuousBackups, UpdateContributorInsights, UpdateGlobalTable,
    UpdateGlobalTableSettings, UpdateItem, UpdateKinesisStreamingDestination, UpdateTable,
    UpdateTableReplicaAutoScaling, UpdateTimeToLive,
}

impl Operation {
    /// The operation an `X-Amz-Target` header names (exact, case-sensitive, as DynamoDB).
    pub fn from_target(target: Option<&str>) -> Result<Operation, MapError> {
        let op = target.and_then(|t| t.strip_prefix(TARGET_PREFIX));
        op.and_then(|op| Operation::ALL.iter().copied().find(|o| o.name() == op))
            .ok_or(MapError::UnknownOperation)
    }

    /// The IAM action, `dynamodb:<Op>`.
    pub fn action(self) -> String {
        let name = self.name();
        let mut action = String::with_capacity("dynamodb:".len() + name.len());
        action.push_str("dynamodb:");
        action.push_str(name);
        action
    }

    /// The `X-Amz-Target` value.
    pub fn target(self) -> String {
        self.target_value().to_owned()
    }

    /// Operations authorized on `*` (they name no table).
    pub fn is_account_level(self) -> bool {
        use Operation::*;
        matches!(
            self,
            ListTables
                | DescribeLimits
                | DescribeEndpoints
                | ListBackups
                | ListGlobalTables
                | ListExports
                | ListImports
                | ListContributorInsights
        )
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_values_have_the_prefix() {
        for op in Operation::ALL {
            assert_eq!(op.target_value(), format!("{TARGET_PREFIX}{}", op.name()));
            assert_eq!(Operation::from_target(Some(op.target_value())), Ok(*op));
        }
    }

    #[test]
    fn target_header() {
        assert_eq!(
            Operation::from_target(Some("DynamoDB_20120810.GetItem")),
            Ok(Operation::GetItem)
        );
        assert_eq!(Operation::GetItem.action(), "dynamodb:GetItem");
        assert_eq!(Operation::ALL.len(), 57);
        for bad in [
            None,
            Some(""),
            Some("DynamoDB_20120810."),
            Some("DynamoDBStreams_20120810.GetRecords"),
            Some("DynamoDB_20120810.Get Item"),
            Some("DynamoDB_20120810.NoSuchThing"),
            Some("dynamodb_20120810.GetItem"),
            Some("DynamoDB_20120810.getitem"),
        ] {
            assert_eq!(
                Operation::from_target(bad),
                Err(MapError::UnknownOperation),
                "{bad:?}"
            );
        }
    }
}
