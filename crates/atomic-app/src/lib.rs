//! Meta images: applications of several containers described by a Nulecule 0.0.2 file, as
//! Project Atomic's Atomic App ran them — the model, answers, parameter resolution, artifact
//! rendering and the order of components. Pure logic over files: the `atomic` binary unpacks
//! applications out of images and deploys what is rendered here on an engine or with kubectl.

pub mod answers;
pub mod app;
pub mod model;
pub mod render;
pub mod resolve;
pub mod subst;

pub use answers::{Answers, GENERAL};
pub use app::{App, Component};
pub use model::{Nulecule, Param, Requirement, Scalar};
pub use resolve::{NoPrompt, Prompter, Sources, Value, Values};
