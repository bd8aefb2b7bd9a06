//! Process and machine figures read from Linux's `/proc`.

use std::process::Command;

/// Peak resident set size (`VmHWM`) of process `pid` ("self" for this one), in KiB.
pub fn peak_rss_kib(pid: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// User plus system CPU time of every thread of process `pid` so far, in seconds.
pub fn cpu_seconds(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    Some(stat_cpu_ticks(&stat)? as f64 / clock_ticks_per_second()?)
}

/// Returns the busy time of all CPUs of the machine so far, in seconds, from `/proc/stat`.
/// Busy time is user, nice, system, irq and softirq time, without idle, I/O wait and steal.
pub fn machine_busy_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().find(|line| line.starts_with("cpu "))?;
    let fields: Vec<u64> = line.split_whitespace().skip(1).map_while(|field| field.parse().ok()).collect();
    let busy_ticks: u64 = [0, 1, 2, 5, 6].iter().map(|&index| fields.get(index).copied()).sum::<Option<u64>>()?;
    Some(busy_ticks as f64 / clock_ticks_per_second()?)
}

/// CPU seconds used by processes other than the bench's own between two readings.
pub struct OtherLoad {
    machine_busy: Option<f64>,
    own: Option<f64>,
}

impl OtherLoad {
    /// Takes the first reading; `own_seconds` is the CPU time of the bench's processes so far.
    pub fn start(own_seconds: Option<f64>) -> OtherLoad {
        OtherLoad {
            machine_busy: machine_busy_seconds(),
            own: own_seconds,
        }
    }

    /// Returns the machine's busy time since [`OtherLoad::start`] minus the bench's own CPU
    /// time in that interval, which `own_seconds` gives as a total like the one passed to
    /// `start`. Clamped at zero, because the two are read at slightly different moments.
    pub fn finish(&self, own_seconds: Option<f64>) -> Option<f64> {
        let busy = machine_busy_seconds()? - self.machine_busy?;
        let own = own_seconds? - self.own?;
        Some((busy - own).max(0.0))
    }
}

/// CPU time of the live threads of process `pid`, summed by thread name, in seconds, largest
/// first. Threads that already exited are missing, so the sum can be below [`cpu_seconds`].
pub fn cpu_seconds_by_thread_name(pid: &str) -> Vec<(String, f64)> {
    let Some(ticks_per_second) = clock_ticks_per_second() else {
        return Vec::new();
    };
    let Ok(threads) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    let mut by_name: Vec<(String, f64)> = Vec::new();
    for thread in threads.flatten() {
        let path = thread.path();
        let name = std::fs::read_to_string(path.join("comm")).unwrap_or_default().trim().to_string();
        let Some(ticks) = std::fs::read_to_string(path.join("stat")).ok().and_then(|stat| stat_cpu_ticks(&stat)) else {
            continue;
        };
        let seconds = ticks as f64 / ticks_per_second;
        match by_name.iter_mut().find(|(known, _)| *known == name) {
            Some((_, total)) => *total += seconds,
            None => by_name.push((name, seconds)),
        }
    }
    by_name.sort_by(|left, right| right.1.total_cmp(&left.1));
    by_name
}

/// utime plus stime, in clock ticks, from the text of a `/proc/.../stat` file.
fn stat_cpu_ticks(stat: &str) -> Option<u64> {
    // The command name in field 2 may contain spaces, so fields are counted after its ')'.
    // Field 3 (state) is the first one after it; utime and stime are fields 14 and 15.
    let after_name = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let user_ticks: u64 = fields.get(11)?.parse().ok()?;
    let system_ticks: u64 = fields.get(12)?.parse().ok()?;
    Some(user_ticks + system_ticks)
}

/// `CLK_TCK`, the unit of the times in `/proc/<pid>/stat`, from `getconf`.
fn clock_ticks_per_second() -> Option<f64> {
    let output = Command::new("getconf").arg("CLK_TCK").output().ok()?;
    if !output.status.success() {
        return None;
    }
    let ticks: f64 = String::from_utf8_lossy(&output.stdout).trim().parse().ok()?;
    (ticks > 0.0).then_some(ticks)
}

/// The machine the bench ran on, for the report.
pub struct Machine {
    pub cpus: usize,
    pub cpu_model: String,
    pub memory_mib: Option<u64>,
    pub kernel: String,
}

impl Machine {
    pub fn read() -> Machine {
        let cpus = std::thread::available_parallelism().map(usize::from).unwrap_or(0);
        let cpu_model = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|cpuinfo| {
                cpuinfo
                    .lines()
                    .find(|line| line.starts_with("model name"))
                    .and_then(|line| line.split_once(':'))
                    .map(|(_, model)| model.trim().to_string())
            })
            .unwrap_or_else(|| "unknown".to_string());
        let memory_mib = std::fs::read_to_string("/proc/meminfo").ok().and_then(|meminfo| {
            let line = meminfo.lines().find(|line| line.starts_with("MemTotal:"))?;
            let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
            Some(kib / 1024)
        });
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|release| release.trim().to_string())
            .unwrap_or_else(|_| "unknown".to_string());
        Machine {
            cpus,
            cpu_model,
            memory_mib,
            kernel,
        }
    }
}

/// Returns the checked-out commit of `root`, with "+ uncommitted changes" when the tree differs from
/// it, or "unknown" when git cannot tell.
pub fn code_version(root: &std::path::Path) -> String {
    let git = |arguments: &[&str]| {
        Command::new("git")
            .current_dir(root)
            .args(arguments)
            .output()
            .ok()
            .filter(|output| output.status.success())
            .map(|output| String::from_utf8_lossy(&output.stdout).trim().to_string())
    };
    let Some(commit) = git(&["rev-parse", "--short", "HEAD"]) else {
        return "unknown".to_string();
    };
    match git(&["status", "--porcelain", "--untracked-files=no"]) {
        Some(changes) if changes.is_empty() => format!("commit {commit}"),
        Some(_) => format!("commit {commit} + uncommitted changes"),
        None => format!("commit {commit}"),
    }
}
