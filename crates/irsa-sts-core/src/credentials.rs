//! Stateless STS credentials: access key ids, derived secret keys, sealed session tokens.
