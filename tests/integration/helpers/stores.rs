//! Scenarios that must read the same to the user on each durable store.

/// Runs the scenario `$name` against each backend.
macro_rules! on_both_stores {
    ($name:ident) => {
        mod $name {
            use crate::helpers::Backend;

            #[tokio::test]
            async fn sqlite() {
                super::$name(Backend::Sqlite).await;
            }

            #[tokio::test]
            async fn postgres() {
                super::$name(Backend::postgres()).await;
            }
        }
    };
}
