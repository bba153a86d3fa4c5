#![doc = include_str!("../README.md")]

pub mod app;
pub mod error;
pub mod halves;
pub mod heard;
pub mod link_state;
pub mod reconnect;
pub mod session;
pub mod stream_io;
pub mod task;
pub mod wire;
