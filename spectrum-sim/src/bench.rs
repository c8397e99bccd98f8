//! Load mode for echo-like backends: throughput, latency, memory.
//!
//! Logs in N users (`bench<i>@sim.localhost`), then sends M messages in
//! total, round-robin over the users, each to the contact `bench`, with at
//! most `concurrency` messages in flight. A reply is a CONV_MESSAGE for the
//! same user from the same contact; replies are matched to messages in
//! order, per user, so the latency of each message is known. Other frames
//! (typing, acks, rosters) are ignored.
//!
//! Memory is the backend process's own `/proc/<pid>/status`: VmRSS sampled
//! by a thread every 10 ms during the run, and VmHWM (the kernel's
//! high-water mark of resident memory) at the end. The PID is the spawned
//! child's, or failing that the one in STATS.
//!
//! Frames are not recorded in the transcript during the run (so the sim
//! neither keeps nor copies them); the run is bounded by `--messages`, by
//! the per-reply `--timeout` and by `--max-time`.

use spectrum_backend::testing::ProcessMemory as Memory;
use std::collections::{HashMap, VecDeque};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use spectrum_backend::proto::{self, Payload};
use spectrum_backend::testing::{Failure, Handshake, MainInstance};

use crate::session::millis;

/// The contact every message is sent to.
const BUDDY: &str = "bench";

/// What to measure.
#[derive(Debug, Clone)]
pub(crate) struct Options {
    /// Users to log in.
    pub(crate) users: usize,
    /// Messages in total.
    pub(crate) messages: usize,
    /// Messages (and logins) in flight at most.
    pub(crate) concurrency: usize,
    /// Longest wait for any one frame.
    pub(crate) timeout: Duration,
    /// Longest whole run.
    pub(crate) max_time: Duration,
}

/// Runs the benchmark and prints the report; 1 if it could not complete.
pub(crate) async fn run(main: MainInstance, handshake: &Handshake, options: &Options) -> ExitCode {
    let pid = main
        .backend_pid()
        .or_else(|| handshake.stats.id.parse().ok());
    let mut bench = Bench {
        main,
        deadline: Instant::now() + options.max_time,
        options: options.clone(),
    };
    println!(
        "# bench: {} users, {} messages, at most {} in flight",
        options.users, options.messages, options.concurrency
    );
    match bench.measure(pid).await {
        Ok(report) => {
            report.print();
            match bench.main.exit_and_wait().await {
                Ok(code) => {
                    println!("# backend exited with code {code}");
                    ExitCode::SUCCESS
                }
                Err(failure) => {
                    eprintln!("spectrum-sim: bench: {}", failure.what());
                    ExitCode::FAILURE
                }
            }
        }
        Err(failure) => {
            eprintln!("spectrum-sim: bench failed: {failure}");
            ExitCode::FAILURE
        }
    }
}

struct Bench {
    main: MainInstance,
    options: Options,
    deadline: Instant,
}

/// What a run measured.
#[derive(Debug)]
struct Report {
    users: usize,
    login_time: Duration,
    messages: usize,
    other_text: usize,
    elapsed: Duration,
    /// Round trips, sorted.
    latencies: Vec<Duration>,
    memory: Option<MemoryReport>,
}

#[derive(Debug)]
struct MemoryReport {
    before_login: Option<u64>,
    after_login: Option<u64>,
    max_sampled: u64,
    end: Option<Memory>,
}

impl Bench {
    async fn measure(&mut self, pid: Option<u32>) -> Result<Report, Failure> {
        let sampler = pid.map(Sampler::start);
        let before_login = pid.and_then(Memory::read).map(|m| m.rss_kib);
        self.main.set_recording(false);
        let users: Vec<String> = (0..self.options.users)
            .map(|i| format!("bench{i}@sim.localhost"))
            .collect();
        let index: HashMap<&str, usize> = users
            .iter()
            .enumerate()
            .map(|(i, u)| (u.as_str(), i))
            .collect();

        let login_start = Instant::now();
        self.login_all(&users, &index).await?;
        let login_time = login_start.elapsed();
        let after_login = pid.and_then(Memory::read).map(|m| m.rss_kib);

        let start = Instant::now();
        let (latencies, other_text) = self.echo_all(&users, &index).await?;
        let elapsed = start.elapsed();

        let memory = match (pid, sampler) {
            (Some(pid), Some(sampler)) => Some(MemoryReport {
                before_login,
                after_login,
                max_sampled: sampler.finish(),
                end: Memory::read(pid),
            }),
            _ => None,
        };
        Ok(Report {
            users: users.len(),
            login_time,
            messages: latencies.len(),
            other_text,
            elapsed,
            latencies,
            memory,
        })
    }

    /// The next frame, or a failure saying what was awaited.
    async fn next(&mut self, waiting_for: impl FnOnce() -> String) -> Result<Payload, Failure> {
        let deadline = self.deadline.min(Instant::now() + self.options.timeout);
        match self.main.recv_until(deadline).await? {
            Some(payload) => Ok(payload),
            None if Instant::now() >= self.deadline => Err(self.main.failure(format!(
                "the run took longer than --max-time {} s, {}",
                self.options.max_time.as_secs_f64(),
                waiting_for()
            ))),
            None => Err(self.main.failure(format!(
                "no frame from the backend within {} s, {}",
                self.options.timeout.as_secs_f64(),
                waiting_for()
            ))),
        }
    }

    async fn login_all(
        &mut self,
        users: &[String],
        index: &HashMap<&str, usize>,
    ) -> Result<(), Failure> {
        let mut connected = vec![false; users.len()];
        let (mut sent, mut done) = (0, 0);
        while done < users.len() {
            while sent < users.len() && sent - done < self.options.concurrency {
                let user = &users[sent];
                self.main
                    .send(Payload::Login(proto::Login {
                        user: user.clone(),
                        legacy_name: user.split('@').next().unwrap_or(user).to_owned(),
                        password: "bench".into(),
                        extra_fields: Vec::new(),
                        settings: Some(proto::login::UserSettings::default()),
                    }))
                    .await?;
                sent += 1;
            }
            let frame = self
                .next(|| {
                    format!(
                        "waiting for CONNECTED ({done} of {} users so far)",
                        users.len()
                    )
                })
                .await?;
            match frame {
                Payload::Connected(c) => {
                    if let Some(&i) = index.get(c.user.as_str())
                        && !connected[i]
                    {
                        connected[i] = true;
                        done += 1;
                    }
                }
                Payload::Disconnected(d) if index.contains_key(d.user.as_str()) => {
                    return Err(self.main.failure(format!(
                        "the backend refused {}: DISCONNECTED error {} ({})",
                        d.user,
                        d.error,
                        d.message.unwrap_or_default()
                    )));
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Sends every message and matches the replies; the round trips
    /// (sorted) and how many replies had another text than the message.
    async fn echo_all(
        &mut self,
        users: &[String],
        index: &HashMap<&str, usize>,
    ) -> Result<(Vec<Duration>, usize), Failure> {
        let total = self.options.messages;
        let mut in_flight: Vec<VecDeque<(Instant, usize)>> = vec![VecDeque::new(); users.len()];
        let mut latencies = Vec::with_capacity(total);
        let mut other_text = 0;
        let mut sent = 0;
        while latencies.len() < total {
            while sent < total && sent - latencies.len() < self.options.concurrency {
                let user = sent % users.len();
                in_flight[user].push_back((Instant::now(), sent));
                self.main
                    .send_message(&users[user], BUDDY, &text_of(sent))
                    .await?;
                sent += 1;
            }
            let received = latencies.len();
            let frame = self
                .next(|| format!("waiting for echoes ({received} of {total} so far)"))
                .await?;
            let Payload::ConvMessage(reply) = frame else {
                continue;
            };
            if reply.buddy_name != BUDDY {
                continue;
            }
            let Some(&user) = index.get(reply.user_name.as_str()) else {
                continue;
            };
            let Some((at, n)) = in_flight[user].pop_front() else {
                return Err(self.main.failure(format!(
                    "a reply for {} that no message asked for: {:?}",
                    reply.user_name, reply.message
                )));
            };
            latencies.push(at.elapsed());
            if reply.message != text_of(n) {
                other_text += 1;
            }
        }
        latencies.sort_unstable();
        Ok((latencies, other_text))
    }
}

fn text_of(n: usize) -> String {
    format!("bench message {n}")
}

impl Report {
    fn print(&self) {
        println!(
            "logins: {} users in {}",
            self.users,
            millis(self.login_time)
        );
        let secs = self.elapsed.as_secs_f64();
        println!(
            "messages: {} echoed in {secs:.3} s{}",
            self.messages,
            if self.other_text > 0 {
                format!(" ({} replies with another text)", self.other_text)
            } else {
                String::new()
            }
        );
        let rate = if secs > 0.0 {
            self.messages as f64 / secs
        } else {
            0.0
        };
        println!("throughput: {rate:.1} messages/s");
        for (name, p) in [("p50", 0.50), ("p90", 0.90), ("p99", 0.99)] {
            println!("latency {name}: {}", millis(percentile(&self.latencies, p)));
        }
        let max = self.latencies.last().copied().unwrap_or_default();
        println!("latency max: {}", millis(max));
        match &self.memory {
            None => println!("memory: unknown (no backend PID)"),
            Some(m) => m.print(self.users),
        }
    }
}

impl MemoryReport {
    fn print(&self, users: usize) {
        match &self.end {
            Some(end) => println!(
                "memory peak (VmHWM): {}; resident at the end (VmRSS): {}; highest sampled VmRSS: {}",
                kib(end.hwm_kib),
                kib(end.rss_kib),
                kib(self.max_sampled)
            ),
            None => println!("memory: /proc/<pid>/status is not readable here"),
        }
        if let (Some(before), Some(after)) = (self.before_login, self.after_login) {
            let per_user = after.saturating_sub(before) as f64 / users as f64;
            println!(
                "memory for logins: {} before, {} after {users} logins (about {per_user:.1} KiB per user)",
                kib(before),
                kib(after)
            );
        }
    }
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = (p * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn kib(k: u64) -> String {
    format!("{k} KiB ({:.1} MiB)", k as f64 / 1024.0)
}

/// Samples a process's VmRSS every 10 ms on a thread of its own, keeping
/// the highest value.
struct Sampler {
    stop: Arc<AtomicBool>,
    max: Arc<AtomicU64>,
    thread: JoinHandle<()>,
}

impl Sampler {
    fn start(pid: u32) -> Sampler {
        let stop = Arc::new(AtomicBool::new(false));
        let max = Arc::new(AtomicU64::new(0));
        let thread = {
            let (stop, max) = (Arc::clone(&stop), Arc::clone(&max));
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    match Memory::read(pid) {
                        Some(m) => {
                            max.fetch_max(m.rss_kib, Ordering::Relaxed);
                        }
                        None => break,
                    }
                    std::thread::sleep(Duration::from_millis(10));
                }
            })
        };
        Sampler { stop, max, thread }
    }

    /// Stops sampling; the highest VmRSS seen, in KiB.
    fn finish(self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.thread.join();
        self.max.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let ms: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile(&ms, 0.50), Duration::from_millis(50));
        assert_eq!(percentile(&ms, 0.99), Duration::from_millis(99));
        assert_eq!(percentile(&ms[..1], 0.99), Duration::from_millis(1));
        assert_eq!(percentile(&[], 0.5), Duration::ZERO);
    }

    #[test]
    fn reads_proc_status() {
        let status = "Name:\techo\nVmHWM:\t    6236 kB\nVmRSS:\t    5980 kB\n";
        assert_eq!(
            Memory::parse(status),
            Some(Memory {
                rss_kib: 5980,
                hwm_kib: 6236
            })
        );
        assert_eq!(Memory::parse("Name:\techo\n"), None);
        let own = Memory::read(std::process::id()).expect("this process's status");
        assert!(own.hwm_kib >= own.rss_kib && own.rss_kib > 0);
    }
}
