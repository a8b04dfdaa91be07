//! Deployment and promotion records kept in S3 beside each version's code zip.
