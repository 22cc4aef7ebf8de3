//! Values for every param of an application tree.
//!
//! For param P of section S, in this order: `--set` values, then the answers file; within each,
//! section S, then its parent sections (`wordpress:mariadb` falls back to `wordpress`: Atomic
//! App asked the user twice for what parent and child share), then `[general]`; then the
//! param's default. A value that is `0`, `false` or empty is a value (Atomic App took those for
//! missing). What is still missing is asked on a terminal (hidden params without echo), or is
//! an error that lists every missing `section.param` at once. Every value, wherever it came
//! from, must match its param's constraints.

use std::collections::BTreeMap;

use anyhow::{Result, bail};

use crate::answers::{Answers, GENERAL};
use crate::app::App;
use crate::model::{Param, Scalar};

/// A resolved value.
#[derive(Debug, Clone, PartialEq)]
pub struct Value {
    pub text: String,
    pub hidden: bool,
    /// The param's default, whose YAML type a value must keep (see `render`).
    pub default: Option<Scalar>,
}

impl Value {
    fn plain(text: &str) -> Value {
        Value {
            text: text.to_string(),
            hidden: false,
            default: None,
        }
    }

    /// The text, or `******` for a hidden value when `masked`.
    pub fn shown(&self, masked: bool) -> &str {
        if masked && self.hidden {
            "******"
        } else {
            &self.text
        }
    }
}

/// Asks the user for a value (a terminal), or cannot.
pub trait Prompter {
    /// `None`: no terminal to ask on.
    fn ask(&mut self, section: &str, param: &Param) -> Result<Option<String>>;
}

/// Never asks: every missing value is an error.
pub struct NoPrompt;

impl Prompter for NoPrompt {
    fn ask(&mut self, _: &str, _: &Param) -> Result<Option<String>> {
        Ok(None)
    }
}

/// The values of every section.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Values {
    pub sections: BTreeMap<String, BTreeMap<String, Value>>,
}

/// Where values come from, strongest first.
pub struct Sources<'a> {
    pub set: &'a Answers,
    pub file: &'a Answers,
}

impl Sources<'_> {
    fn lookup(&self, section: &str, name: &str) -> Option<&str> {
        for source in [self.set, self.file] {
            for s in fallbacks(section) {
                if let Some(v) = source.get(&s, name) {
                    return Some(v);
                }
            }
        }
        None
    }
}

/// `a:b:c` → `a:b:c`, `a:b`, `a`, `general`.
fn fallbacks(section: &str) -> Vec<String> {
    let mut out = vec![section.to_string()];
    let mut s = section;
    while let Some((parent, _)) = s.rsplit_once(':') {
        out.push(parent.to_string());
        s = parent;
    }
    if section != GENERAL {
        out.push(GENERAL.to_string());
    }
    out
}

/// Resolve every param of the tree.
pub fn resolve(app: &App, sources: &Sources, prompter: &mut dyn Prompter) -> Result<Values> {
    let mut values = Values::default();
    let mut missing: Vec<String> = Vec::new();
    let mut bad: Vec<String> = Vec::new();
    let mut each = |section: &str, params: &[Param]| -> Result<()> {
        for param in params {
            let found = sources
                .lookup(section, &param.name)
                .map(str::to_string)
                .or_else(|| param.default.as_ref().map(Scalar::to_string));
            let text = match found {
                Some(text) => text,
                None => match ask_valid(prompter, section, param)? {
                    Some(text) => text,
                    None => {
                        missing.push(format!("{section}.{}", param.name));
                        continue;
                    }
                },
            };
            if let Some(problem) = violation(param, &text) {
                bad.push(format!("{section}.{}: {problem}", param.name));
            }
            values
                .sections
                .entry(section.to_string())
                .or_default()
                .insert(
                    param.name.clone(),
                    Value {
                        text,
                        hidden: param.hidden,
                        default: param.default.clone(),
                    },
                );
        }
        Ok(())
    };
    for (section, sub) in app.apps() {
        each(&section, &sub.nulecule.params)?;
    }
    for component in app.components() {
        each(&component.section, &component.item.params)?;
    }
    if !missing.is_empty() {
        bail!(
            "no value for {} (and no terminal to ask on): give them in an answers file \
             ('atomic app genanswers APP' writes one; --answers FILE) or with --set \
             SECTION:PARAM=VALUE",
            missing.join(", ")
        );
    }
    if !bad.is_empty() {
        bail!("values that break their constraints: {}", bad.join("; "));
    }
    // [general] and each section's extra keys are seen by artifacts too ($namespace, $provider).
    for source in [sources.file, sources.set] {
        for (section, params) in &source.sections {
            let entry = values.sections.entry(section.clone()).or_default();
            for (name, v) in params {
                if let Some(v) = v
                    && !entry.contains_key(name)
                {
                    entry.insert(name.clone(), Value::plain(v));
                }
            }
        }
    }
    Ok(values)
}

/// Ask until the answer matches the constraints (a terminal), or `None` (no terminal).
fn ask_valid(prompter: &mut dyn Prompter, section: &str, param: &Param) -> Result<Option<String>> {
    loop {
        let Some(answer) = prompter.ask(section, param)? else {
            return Ok(None);
        };
        match violation(param, &answer) {
            None => return Ok(Some(answer)),
            Some(problem) => eprintln!("{problem}"),
        }
    }
}

/// Why `text` breaks a constraint of `param` (a full match of each pattern is needed).
pub fn violation(param: &Param, text: &str) -> Option<String> {
    for c in &param.constraints {
        let anchored = format!("^(?:{})$", c.allowed_pattern);
        let matches = regex::Regex::new(&anchored).is_ok_and(|re| re.is_match(text));
        if !matches {
            return Some(match &c.description {
                Some(d) => format!("'{text}' does not match {} ({d})", c.allowed_pattern),
                None => format!("'{text}' does not match {}", c.allowed_pattern),
            });
        }
    }
    None
}

impl Values {
    /// What artifacts of the component in `section` (belonging to the application whose
    /// globals are in `app_section`) see: `[general]`, then every enclosing application's
    /// section, then the component's own — the nearer one wins.
    pub fn context(&self, section: &str, app_section: &str) -> BTreeMap<String, Value> {
        let mut layers = fallbacks(app_section);
        layers.reverse();
        let mut ctx = BTreeMap::new();
        for s in layers.iter().chain(std::iter::once(&section.to_string())) {
            if let Some(vars) = self.sections.get(s) {
                for (k, v) in vars {
                    ctx.insert(k.clone(), v.clone());
                }
            }
        }
        ctx
    }

    /// A value of `[general]`.
    pub fn general(&self, name: &str) -> Option<&str> {
        Some(self.sections.get(GENERAL)?.get(name)?.text.as_str())
    }

    /// As answers (every value), for the state kept per application.
    pub fn to_answers(&self) -> Answers {
        let mut a = Answers::default();
        for (section, vars) in &self.sections {
            for (k, v) in vars {
                a.set(section, k, Some(v.text.clone()));
            }
        }
        a
    }
}

/// An answers template: every section and param, with its default or `None`.
pub fn template(app: &App) -> Answers {
    let mut a = Answers::default();
    let mut add = |section: &str, params: &[Param]| {
        for p in params {
            a.set(section, &p.name, p.default.as_ref().map(Scalar::to_string));
        }
        a.sections.entry(section.to_string()).or_default();
    };
    for (section, sub) in app.apps() {
        add(&section, &sub.nulecule.params);
    }
    for c in app.components() {
        add(&c.section, &c.item.params);
    }
    a
}

/// The sections in the order a template lists them.
pub fn section_order(app: &App) -> Vec<String> {
    let mut out: Vec<String> = app.apps().into_iter().map(|(s, _)| s).collect();
    out.extend(app.components().into_iter().map(|c| c.section));
    out
}
