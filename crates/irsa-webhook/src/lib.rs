//! irsa-webhook
