// Loaded by evcxr at kernel start in CI (EVCXR_CONFIG_DIR=.ci/evcxr). evcxr reports a panic in a
// cell as output and carries on, and nbconvert then exits 0; aborting the kernel process instead
// makes the execution fail, so a panicking notebook cannot pass CI.
std::panic::set_hook(Box::new(|info| {
    eprintln!("CI: panic in a notebook cell, aborting the kernel: {info}");
    std::process::abort();
}));
