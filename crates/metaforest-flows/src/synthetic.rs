pub fn generate(_c: &SyntheticConfig) {}
pub struct SyntheticConfig;
