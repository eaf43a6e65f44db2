//! META as one more row of the reports: the meta-learner, meta-trained once per fold on the known domains only
//! (their rows and the fold's per-domain forests), then adapted on every draw's support.
//!
//! `META` uses the labelled support only; `META+U` also reads the fold's unlabelled pool sample (like B6) to
//! self-train its local forest and set its threshold. Both share one meta-model per fold.

use std::sync::{Arc, Mutex};

use linfa::ParamGuard;

use metaforest_meta::descriptor::ForestFacts;
use metaforest_meta::{Detector, DomainData, Heads, MetaModel, MetaParams, TaskLearner};

use crate::error::{EvalError, Result};
use crate::meta_sources::MetaSources;
use crate::method::{Draw, Fold, Method, Scored};

/// The per-fold meta-model, shared by the META variants so it is trained once per fold.
#[derive(Default)]
pub struct SharedMetaModel {
    slot: Mutex<Option<(String, Arc<MetaModel>)>>,
    /// Other data sets the weighting head also learns from (none by default).
    sources: Option<Arc<MetaSources>>,
}

impl SharedMetaModel {
    fn get_or_train(&self, fold: &Fold, params: &MetaParams) -> Result<Arc<MetaModel>> {
        let key = format!("{}/{}/{}", fold.protocol, fold.variant, fold.held_out);
        let mut slot = self.slot.lock().expect("meta-model lock poisoned");
        if let Some((k, m)) = slot.as_ref() {
            if *k == key {
                return Ok(Arc::clone(m));
            }
        }
        // Only the known domains reach the meta-learner: their rows and the fold's forests trained on them.
        let domains: Vec<DomainData> = fold
            .known
            .iter()
            .map(|d| DomainData::from_table(&fold.table, &d.name, &d.rows))
            .collect();
        let learners: Vec<TaskLearner> = fold
            .known
            .iter()
            .zip(&fold.known_forests)
            .map(|(d, f)| TaskLearner {
                name: d.name.clone(),
                forest: (**f).clone(),
                facts: ForestFacts::of(f, d.rows.len().min(fold.config.known_cap)),
            })
            .collect();
        let extra = match &self.sources {
            Some(s) => s.for_fold(fold)?,
            None => Vec::new(),
        };
        let t = std::time::Instant::now();
        let model = MetaModel::fit_with_sources(
            &domains,
            learners,
            &extra,
            &params.clone().seed(fold.seed).check()?,
        )?;
        tracing::info!(fold = %key, seconds = t.elapsed().as_secs_f64(), "META meta-trained");
        let model = Arc::new(model);
        *slot = Some((key, Arc::clone(&model)));
        Ok(model)
    }
}

/// The meta-learner as a [`Method`].
pub struct MetaMethod {
    name: String,
    unlabelled: bool,
    params: MetaParams,
    shared: Arc<SharedMetaModel>,
    model: Option<Arc<MetaModel>>,
}

impl MetaMethod {
    /// `META` (labelled support only) and `META+U` (also the unlabelled pool sample), sharing one meta-model.
    pub fn pair(params: MetaParams) -> Vec<Box<dyn Method>> {
        Self::pair_with_sources(params, None)
    }

    /// [`MetaMethod::pair`] whose meta-model also learns from other data sets ([`MetaSources`]), those each fold
    /// may use.
    pub fn pair_with_sources(
        params: MetaParams,
        sources: Option<Arc<MetaSources>>,
    ) -> Vec<Box<dyn Method>> {
        let shared = Arc::new(SharedMetaModel {
            slot: Mutex::new(None),
            sources,
        });
        [("META", false), ("META+U", true)]
            .into_iter()
            .map(|(name, unlabelled)| {
                Box::new(MetaMethod {
                    name: name.to_string(),
                    unlabelled,
                    params: params.clone(),
                    shared: Arc::clone(&shared),
                    model: None,
                }) as Box<dyn Method>
            })
            .collect()
    }

    /// One named variant with its own meta-model (the ablation rows: different [`metaforest_meta::Heads`]).
    pub fn single(name: &str, params: MetaParams) -> Box<dyn Method> {
        Box::new(MetaMethod::new(name, params))
    }

    /// [`MetaMethod::single`] as the concrete type, for callers that want the [`Detector`] itself.
    pub fn new(name: &str, params: MetaParams) -> MetaMethod {
        MetaMethod {
            name: name.to_string(),
            unlabelled: false,
            params,
            shared: Arc::new(SharedMetaModel::default()),
            model: None,
        }
    }

    /// The detector this method adapts on `draw`'s support (and, for `META+U`, the fold's unlabelled flows);
    /// [`Method::score`] applies it to the fold's test flows.
    pub fn detector(&self, fold: &Fold, draw: &Draw) -> Result<Detector> {
        let model = self.model.as_ref().ok_or_else(|| {
            EvalError::Config(format!("{}: adapt called before prepare", self.name))
        })?;
        Ok(if self.unlabelled {
            model.adapt_with_unlabelled(
                draw.x_support.view(),
                &draw.y_support,
                fold.x_unlabelled.view(),
            )
        } else {
            model.adapt(draw.x_support.view(), &draw.y_support)
        }?)
    }
}

impl Method for MetaMethod {
    fn name(&self) -> &str {
        &self.name
    }
    fn describe(&self) -> String {
        let what = match self.params.check_ref().map(|p| p.heads()) {
            Ok(Heads::Both) => "meta-learned forest weights and local-forest initialisation",
            Ok(Heads::WeightsOnly) => {
                "meta-learned forest weights over the known forests and a plain local forest"
            }
            Ok(Heads::InitOnly) => "meta-learned local-forest initialisation alone",
            Err(_) => "invalid meta-learner parameters",
        };
        let u = if self.unlabelled {
            "; local forest self-trained on unlabelled flows, threshold from the learned rule on them"
        } else {
            "; threshold 0.5"
        };
        format!("{what}{u}")
    }
    fn uses_unlabelled(&self) -> bool {
        self.unlabelled
    }
    fn prepare(&mut self, fold: &Fold) -> Result<()> {
        self.model = Some(self.shared.get_or_train(fold, &self.params)?);
        Ok(())
    }
    /// What meta-training kept on this fold, in plain words: whether the weighting head learned or was left at
    /// fixed weights, and the local forest's share of them.
    fn fold_choice(&self) -> Option<String> {
        self.model.as_ref().map(|m| {
            let heads = m.report().summary(m.params().heads());
            match m.coverage() {
                Some(c) => format!("{heads}; {}", c.summary()),
                None => heads,
            }
        })
    }
    fn score(&self, fold: &Fold, draw: &Draw) -> Result<Scored> {
        let detector = self.detector(fold, draw)?;
        let proba = detector.predict_proba(fold.x_test.view());
        let pred = proba
            .iter()
            .map(|&p| (p >= detector.threshold()) as u8)
            .collect();
        Ok(Scored { proba, pred })
    }
}
