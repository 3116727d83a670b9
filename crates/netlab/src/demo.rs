//! The README's main job: boot the lab, program the real kernel's IPVS and
//! send traffic through the virtual IP.

use std::time::Duration;

use netlab::scenario::{Lvs, VIP};
use netlab::{Error, Lab, Result, RunSpec};

/// Host side: boot the VM and run `netlab demo-guest` in it.
pub fn host(lab: &Lab) -> Result<i32> {
    let exe = std::env::current_exe()?;
    println!("booting the kernel lab (qemu, Debian kernel with IPVS)...");
    let spec = RunSpec::new([exe.to_string_lossy().into_owned(), "demo-guest".into()])
        .timeout(Duration::from_secs(120));
    let out = lab.run(&spec)?;
    print!("{}", String::from_utf8_lossy(&out.stdout));
    eprint!("{}", String::from_utf8_lossy(&out.stderr));
    println!(
        "(VM boot, demo and power-off took {:.1} s)",
        out.elapsed.as_secs_f64()
    );
    Ok(out.code)
}

/// Guest side: the LVS-NAT scenario with two backends and `ipvsadm`.
pub fn guest() -> Result<()> {
    let ipvsadm = std::env::var("DEMO_IPVSADM").unwrap_or_else(|_| "ipvsadm".into());
    println!(
        "kernel {}",
        std::fs::read_to_string("/proc/sys/kernel/osrelease")?.trim()
    );
    let lab = Lvs::build_nat(&std::env::current_exe()?, 2)?;
    println!(
        "topology: client -> director (VIP {VIP}) -> backends {:?}",
        lab.backends
    );
    for args in lab.service_commands() {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        println!("# {ipvsadm} {}", args.join(" "));
        lab.ipvsadm(&ipvsadm, &args)?;
    }
    println!("# {ipvsadm} -L -n");
    print!(
        "{}",
        String::from_utf8_lossy(&lab.ipvsadm(&ipvsadm, &["-L", "-n"])?.stdout)
    );
    let mut seen = Vec::new();
    for i in 1..=6 {
        let body = lab.get("client", &format!("http://{VIP}/"))?;
        println!(
            "client request {i} to http://{VIP}/ answered by {}",
            body.trim()
        );
        seen.push(body.trim().to_owned());
    }
    // The kernel folds its per-CPU counters into the totals every 2 s.
    std::thread::sleep(Duration::from_millis(2100));
    println!("# {ipvsadm} -L -n --stats");
    print!(
        "{}",
        String::from_utf8_lossy(&lab.ipvsadm(&ipvsadm, &["-L", "-n", "--stats"])?.stdout)
    );
    seen.sort();
    seen.dedup();
    if seen.len() != 2 {
        return Err(Error::Lab(format!(
            "expected both backends to answer, saw {seen:?}"
        )));
    }
    println!("demo OK: both backends answered through the VIP");
    Ok(())
}
