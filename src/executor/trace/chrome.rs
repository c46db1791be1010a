//! The Chrome trace-event JSON writer (the `{"traceEvents": [...]}` format that Perfetto and
//! `chrome://tracing` open), by hand: the library has no serde.
//!
//! Tracks (one `tid` each in process 1, named by `thread_name` metadata): P`n` is tid
//! `1 + n`, M`n` is tid `10_001 + n`, and tid 0 gathers events of threads with neither (a spawn
//! from outside the runtime). Each poll is a complete event (`"ph":"X"`) on its P's track and
//! on its M's, named by the task's spawn site; every other event is an instant (`"ph":"i"`)
//! on its P's track (park and unpark, which concern an M, on the M's). A poll whose end is not
//! in the snapshot (still running, or its end overwritten) lasts until the snapshot was taken
//! (or the next poll on its P) and has `"unfinished": true` in its args.

use super::snapshot::{TraceEvent, TraceEventKind, TraceSnapshot};
use std::collections::{BTreeSet, HashMap};
use std::fmt::Write as _;
use std::io;

const M_TID: usize = 10_001;

fn p_tid(p: usize) -> usize {
    1 + p
}

fn m_tid(m: usize) -> usize {
    M_TID + m
}

/// Microseconds with nanosecond digits, as the format wants.
fn us(ns: u128) -> String {
    format!("{}.{:03}", ns / 1000, ns % 1000)
}

/// `s` as a JSON string literal.
fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A poll's slice name: its spawn site, else its id.
fn slice_name(e: &TraceEvent) -> String {
    match (e.spawned_at, e.task) {
        (Some(loc), _) => loc.to_string(),
        (None, Some(t)) => format!("task {t}"),
        (None, None) => "task".to_string(),
    }
}

/// The common args of an event: task, spawn site, P, M, arg.
fn args(e: &TraceEvent, extra: &str) -> String {
    let mut a = String::from("{");
    let mut sep = "";
    if let Some(t) = e.task {
        let _ = write!(a, "\"task\":{t}");
        sep = ",";
    }
    if let Some(loc) = e.spawned_at {
        let _ = write!(a, "{sep}\"spawned_at\":{}", quote(&loc.to_string()));
        sep = ",";
    }
    if let Some(p) = e.p {
        let _ = write!(a, "{sep}\"p\":{p}");
        sep = ",";
    }
    if let Some(m) = e.m {
        let _ = write!(a, "{sep}\"m\":{m}");
        sep = ",";
    }
    if e.arg != 0 {
        let _ = write!(a, "{sep}\"arg\":{}", e.arg);
        sep = ",";
    }
    if !extra.is_empty() {
        let _ = write!(a, "{sep}{extra}");
    }
    a.push('}');
    a
}

/// An instant's name and, for a steal, its extra args.
fn instant(e: &TraceEvent) -> (String, String) {
    match e.kind {
        TraceEventKind::Steal => (
            format!("steal {} from P{}", e.arg & 0xFF, e.arg >> 8),
            format!("\"victim\":{},\"tasks\":{}", e.arg >> 8, e.arg & 0xFF),
        ),
        TraceEventKind::Rescue => (format!("rescue (lent P{})", e.arg), String::new()),
        TraceEventKind::Netpoll => (format!("netpoll {}", e.arg), String::new()),
        k => (k.name().to_string(), String::new()),
    }
}

/// Write `snap` as Chrome trace-event JSON.
pub(crate) fn write(snap: &TraceSnapshot, mut w: impl io::Write) -> io::Result<()> {
    let mut out: Vec<String> = Vec::new();
    let mut ps: BTreeSet<usize> = (0..snap.procs).collect();
    let mut ms: BTreeSet<usize> = BTreeSet::new();
    let mut other = false;
    let last = snap.events.last().map_or(0, |e| e.time.as_nanos());
    let end = snap.taken_at.as_nanos().max(last);
    // The poll running on each P: its start event.
    let mut open: HashMap<usize, &TraceEvent> = HashMap::new();
    let slice = |out: &mut Vec<String>, start: &TraceEvent, end_ns: u128, extra: &str| {
        let name = quote(&slice_name(start));
        let ts = us(start.time.as_nanos());
        let dur = us(end_ns.saturating_sub(start.time.as_nanos()));
        let a = args(start, extra);
        let mut tids = vec![];
        if let Some(p) = start.p {
            tids.push(p_tid(p));
        }
        if let Some(m) = start.m {
            tids.push(m_tid(m));
        }
        for tid in tids {
            out.push(format!(
                "{{\"name\":{name},\"cat\":\"poll\",\"ph\":\"X\",\"pid\":1,\"tid\":{tid},\
                 \"ts\":{ts},\"dur\":{dur},\"args\":{a}}}"
            ));
        }
    };
    for e in &snap.events {
        if let Some(p) = e.p {
            ps.insert(p);
        }
        if let Some(m) = e.m {
            ms.insert(m);
        }
        match e.kind {
            TraceEventKind::PollStart => {
                if let Some(p) = e.p {
                    if let Some(prev) = open.insert(p, e) {
                        slice(&mut out, prev, e.time.as_nanos(), "\"unfinished\":true");
                    }
                }
            }
            TraceEventKind::PollEnd => {
                if let Some(p) = e.p {
                    if open.get(&p).is_some_and(|s| s.task == e.task) {
                        let start = open.remove(&p).expect("checked");
                        slice(&mut out, start, e.time.as_nanos(), "");
                    }
                }
            }
            _ => {
                let tid = match (e.kind, e.p, e.m) {
                    (TraceEventKind::Park | TraceEventKind::Unpark, _, Some(m)) => m_tid(m),
                    (_, Some(p), _) => p_tid(p),
                    (_, None, Some(m)) => m_tid(m),
                    (_, None, None) => {
                        other = true;
                        0
                    }
                };
                let (name, extra) = instant(e);
                out.push(format!(
                    "{{\"name\":{},\"cat\":\"sched\",\"ph\":\"i\",\"s\":\"t\",\"pid\":1,\
                     \"tid\":{tid},\"ts\":{},\"args\":{}}}",
                    quote(&name),
                    us(e.time.as_nanos()),
                    args(e, &extra)
                ));
            }
        }
    }
    let mut still: Vec<_> = open.into_values().collect();
    still.sort_by_key(|e| e.time);
    for s in still {
        slice(&mut out, s, end, "\"unfinished\":true");
    }

    let meta = |tid: usize, name: &str, order: usize| {
        format!(
            "{{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":1,\"tid\":{tid},\"args\":{{\"name\":{}}}}},\n\
             {{\"name\":\"thread_sort_index\",\"ph\":\"M\",\"pid\":1,\"tid\":{tid},\"args\":{{\"sort_index\":{order}}}}}",
            quote(name)
        )
    };
    let mut head = vec![
        "{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":1,\"tid\":0,\"args\":{\"name\":\"gmp runtime\"}}"
            .to_string(),
    ];
    for &p in &ps {
        let name = if p < snap.procs {
            format!("P{p}")
        } else {
            format!("P{p} (reserve)")
        };
        head.push(meta(p_tid(p), &name, p_tid(p)));
    }
    for &m in &ms {
        head.push(meta(m_tid(m), &format!("M{m}"), m_tid(m)));
    }
    if other {
        head.push(meta(0, "other threads", usize::MAX >> 1));
    }
    writeln!(w, "{{\"displayTimeUnit\":\"ns\",\"otherData\":{{\"producer\":\"gmp flight recorder\",\"missed\":{}}},\"traceEvents\":[", snap.missed)?;
    let mut first = true;
    for line in head.iter().chain(out.iter()) {
        if !first {
            w.write_all(b",\n")?;
        }
        first = false;
        w.write_all(line.as_bytes())?;
    }
    w.write_all(b"\n]}\n")
}

#[cfg(test)]
mod tests {
    use super::quote;

    #[test]
    fn quotes_json_strings() {
        assert_eq!(quote("a\"b\\c\n"), "\"a\\\"b\\\\c\\u000a\"");
    }
}
