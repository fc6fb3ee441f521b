//! irsa-oidc
