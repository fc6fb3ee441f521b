//! irsa-sts
