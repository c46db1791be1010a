//! A stuck-P rescue, recorded by the flight recorder and written as a Chrome trace:
//!
//! ```text
//! cargo run --release --example trace_rescue -- /tmp/rescue.json
//! python3 scripts/trace_png.py /tmp/rescue.json docs/trace_rescue.png
//! ```
//!
//! Two Ps. One task keeps a P busy with 2ms polls; another spins for 60ms without an await
//! (a CPU loop, an unmarked blocking call) after queueing four tasks behind it on its own P.
//! They cannot run there, and no P is idle to steal them: after two time slices sysmon moves
//! them out and lends a reserve P, which runs them while the hog is still stuck.
//! Open the file in <https://ui.perfetto.dev> or render it to a PNG with the script.

use std::time::{Duration, Instant};

fn spin(d: Duration) {
    let start = Instant::now();
    while start.elapsed() < d {
        std::hint::spin_loop();
    }
}

fn main() {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "trace_rescue.json".to_string());
    let rt = gmp::Runtime::builder()
        .procs(2)
        .flight_recorder(true)
        .build()
        .unwrap();
    rt.block_on(async {
        // Busy neighbours: P1 is kept busy by a task that spins in short polls, so no P is idle.
        let busy = gmp::spawn(async {
            for _ in 0..40 {
                spin(Duration::from_millis(2));
                gmp::yield_now().await;
            }
        });
        let hog = gmp::spawn(async {
            // Queue work behind us on our own P, then never yield for 60ms.
            let queued: Vec<_> = (0..4)
                .map(|i| {
                    gmp::spawn(async move {
                        spin(Duration::from_millis(3));
                        i
                    })
                })
                .collect();
            spin(Duration::from_millis(60));
            queued
        });
        let queued = hog.await.unwrap();
        for q in queued {
            q.await.unwrap();
        }
        busy.await.unwrap();
    });
    let m = rt.handle().metrics();
    rt.handle().write_trace(&path).unwrap();
    println!("rescues: {}; trace written to {path}", m.rescues);
}
