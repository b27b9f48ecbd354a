//! Process plumbing the bench programs share: finding the sibling binaries, free ports,
//! signals, and a process's CPU time and peak memory from /proc. Each bench program
//! includes this file as a module and uses part of it.
#![allow(dead_code)]

use std::{
    path::PathBuf,
    process::{Child, Command},
};

use anyhow::Context as _;

/// A release binary next to the running one.
pub fn binary(name: &str) -> anyhow::Result<PathBuf> {
    let path = std::env::current_exe()?
        .parent()
        .context("binary directory")?
        .join(name);
    anyhow::ensure!(
        path.exists(),
        "{} is not built (cargo build --release -p operator -p checker -p ingestor -p sentinel-bench)",
        path.display()
    );
    Ok(path)
}

/// A port that was free a moment ago on 127.0.0.1.
pub fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// Sends `signal` (`-TERM`, `-KILL`) to `child`.
pub fn signal(child: &Child, signal: &str) {
    let _ = Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status();
}

/// (CPU seconds, peak RSS in MiB) of process `pid`.
pub fn usage(pid: u32) -> (f64, f64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of stat; after the ")" they are the 12th and 13th.
    let cpu = (ticks(11) + ticks(12)) / 100.0;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let rss = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0);
    (cpu, rss)
}

/// The host's memory in GiB (from `/proc/meminfo`), printed with every figure so runs on
/// different machines can be compared.
pub fn memory_gib() -> f64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .next()
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0 / 1024.0)
}
