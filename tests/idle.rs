//! An idle runtime makes no wake-ups: with sockets registered, a task parked on `accept`, a
//! timer an hour away and the stall watchdog on, its threads stay asleep.
#![cfg(target_os = "linux")]

mod common;

use common::run_with_timeout;
use heist::io::{AsyncReadExt, AsyncWriteExt};
use heist::net::{TcpListener, TcpStream};
use std::time::Duration;

/// Context switches so far of each of this process's threads whose name starts with one of
/// `prefixes`.
fn context_switches(prefixes: &[&str]) -> Vec<(String, u64)> {
    let mut threads = Vec::new();
    for entry in std::fs::read_dir("/proc/self/task").unwrap() {
        let dir = entry.unwrap().path();
        let Ok(name) = std::fs::read_to_string(dir.join("comm")) else {
            continue; // the thread has exited
        };
        let name = name.trim().to_string();
        if !prefixes.iter().any(|prefix| name.starts_with(prefix)) {
            continue;
        }
        let Ok(status) = std::fs::read_to_string(dir.join("status")) else {
            continue;
        };
        let switches = status
            .lines()
            .filter(|line| line.contains("ctxt_switches"))
            .map(|line| line.split_whitespace().last().unwrap().parse::<u64>().unwrap())
            .sum();
        let tid = dir.file_name().unwrap().to_string_lossy().into_owned();
        threads.push((format!("{name} ({tid})"), switches));
    }
    threads.sort();
    threads
}

#[test]
fn an_idle_runtime_with_sockets_and_timers_makes_no_wake_ups() {
    run_with_timeout("idle_wake_ups", || {
        let rt = heist::runtime::Builder::new()
            .worker_threads(2)
            .thread_name("idle-test-rt")
            .build()
            .unwrap();
        let addr = rt.block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            heist::spawn(async move {
                loop {
                    let (mut stream, _) = listener.accept().await.unwrap();
                    heist::spawn(async move {
                        let mut buf = [0; 64];
                        while let Ok(n @ 1..) = stream.read(&mut buf).await {
                            stream.write_all(&buf[..n]).await.unwrap();
                        }
                    });
                }
            });
            heist::spawn(heist::time::sleep(Duration::from_secs(3600)));
            // Some traffic first, so that the watch has changed hands and a standby exists.
            let mut client = TcpStream::connect(addr).await.unwrap();
            for _ in 0..100 {
                client.write_all(b"ping").await.unwrap();
                let mut buf = [0; 4];
                client.read_exact(&mut buf).await.unwrap();
            }
            addr
        });
        // Let the standby's back-off (150 ms) and the watchdog's last look (100 ms) run out.
        std::thread::sleep(Duration::from_millis(500));
        let before = context_switches(&["idle-test-rt", "heist-watchdog"]);
        assert!(before.len() >= 3, "expected 2 workers and a watchdog: {before:?}");
        std::thread::sleep(Duration::from_secs(5));
        let after = context_switches(&["idle-test-rt", "heist-watchdog"]);
        assert_eq!(before, after, "an idle runtime woke up in 5 s");

        // And it still serves: the first connection after the quiet spell gets its echo.
        rt.block_on(async {
            let mut client = TcpStream::connect(addr).await.unwrap();
            client.write_all(b"awake").await.unwrap();
            let mut buf = [0; 5];
            client.read_exact(&mut buf).await.unwrap();
            assert_eq!(&buf, b"awake");
        });
    });
}
