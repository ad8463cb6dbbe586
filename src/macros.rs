//! `select!`, `join!` and `try_join!`, in tokio's shapes.
//!
//! Written here (`macro_rules`, with one small proc-macro helper in `heist-macros`) rather than
//! taken from futures-util: futures-util's `select!` needs `FusedFuture`s and `.fuse()`d inputs,
//! has no `biased;` keyword of this form, no `, if precondition` and different `else`/`complete`
//! branches, so tokio code would need rewriting; its `join!` is close to tokio's, but pulling
//! futures-util in for it alone is a large dependency for a small macro. Users of tokio expect:
//! a random first branch on each poll (fairness) unless `biased;`, branches disabled by a false
//! precondition or by an output that does not match the pattern, `else` when every branch is
//! disabled, and handlers that run after every future is dropped, outside any loop of the
//! macro's (so `break`, `continue`, `return` and `?` in a handler act on the caller's code).
//!
//! How `select!` works: each branch's future lives pinned in an inner block; one `poll_fn`
//! polls the enabled ones from a random start, and on the first output that matches its
//! pattern (tested on a reference, see `heist_macros::select_clean_pattern`) stores it and
//! returns the branch's index. The inner block ends, dropping every future; then the winning
//! output is matched by value against its pattern and the handler runs.

/// What the macros expand to; not public API.
#[doc(hidden)]
pub mod __private {
    pub use std::future::{Future, IntoFuture, poll_fn};
    pub use std::pin::{Pin, pin};
    pub use std::task::Poll;

    /// The branch `offset` places after `start`, going round `branches` (a function, not
    /// inline: with a constant `branches` of 1, lints would flag the `%` in the caller's code).
    pub fn nth_from(start: u32, offset: u32, branches: u32) -> u32 {
        if branches == 0 {
            0
        } else {
            (start + offset) % branches
        }
    }

    /// A branch index to start polling from, in `0..branches`: a per-thread xorshift, cheap
    /// and good enough to keep one always-ready branch from starving the others.
    pub fn random_start(branches: u32) -> u32 {
        use std::cell::Cell;
        std::thread_local!(static STATE: Cell<u32> = const { Cell::new(0) });
        if branches <= 1 {
            return 0;
        }
        STATE
            .try_with(|state| {
                let mut x = state.get();
                if x == 0 {
                    // Seeded from this thread's stack address and std's random hash keys.
                    use std::hash::{BuildHasher, RandomState};
                    x = (RandomState::new().hash_one(&x as *const u32 as usize) as u32) | 1;
                }
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                state.set(x);
                x % branches
            })
            .unwrap_or(0)
    }
}

/// Waits on several futures at once and runs the handler of the first to complete with an
/// output that matches its pattern, dropping the others; tokio's `select!`.
///
/// ```text
/// heist::select! {
///     biased;                                   // optional: poll branches in order
///     <pattern> = <future> , if <condition> => <handler>,   // `, if ..` optional
///     ...
///     else => <expression>,                     // optional: when every branch is disabled
/// }
/// ```
///
/// 1. Every `<condition>` is evaluated, then every `<future>` (any `IntoFuture`), in order.
///    A branch whose condition is false is *disabled*: its future is made but never polled.
/// 2. The enabled futures are polled, on this task, starting from a random branch on each poll
///    (from the first with `biased;`). When one completes, its output is matched against its
///    pattern: if it does not match, the branch is disabled and the others go on; if it
///    matches, every future is dropped and its handler runs with the pattern's bindings. The
///    handler's value is `select!`'s.
/// 3. If every branch is disabled, the `else` expression is `select!`'s value; without an
///    `else`, `select!` panics with a message saying so.
///
/// At most 64 branches. Handlers run outside the macro's own code, so `break`, `continue`,
/// `return` and `?` in them act on the surrounding function or loop.
///
/// ```
/// use heist::sync::mpsc;
/// use heist::time::{Duration, sleep};
///
/// heist::Runtime::new().unwrap().block_on(async {
///     let (tx, mut rx) = mpsc::channel(4);
///     tx.send(1).await.unwrap();
///     drop(tx);
///     let mut got = Vec::new();
///     loop {
///         heist::select! {
///             Some(v) = rx.recv() => got.push(v),
///             // `recv()` gave `None` (pattern not matched): every branch is disabled.
///             else => break,
///         }
///     }
///     assert_eq!(got, [1]);
///
///     let timed_out = heist::select! {
///         biased;
///         _ = std::future::pending::<()>() => false,
///         _ = sleep(Duration::from_millis(1)) => true,
///     };
///     assert!(timed_out);
///
///     let ready = false;
///     let value = heist::select! {
///         v = async { 1 }, if ready => v,
///         v = async { 2 } => v,
///     };
///     assert_eq!(value, 2);
/// });
/// ```
#[macro_export]
macro_rules! select {
    (biased; $($branches:tt)*) => {
        $crate::__select_parse!(@biased (true) @branches [] @count (0) @rest $($branches)*)
    };
    ($($branches:tt)*) => {
        $crate::__select_parse!(@biased (false) @branches [] @count (0) @rest $($branches)*)
    };
}

/// `select!`'s parser: one branch per step, each given its own (hygienic) `future` and
/// `output` names.
#[doc(hidden)]
#[macro_export]
macro_rules! __select_parse {
    // The end, without `else`.
    (@biased $biased:tt @branches [$($branches:tt)*] @count $count:tt @rest) => {
        $crate::__select_emit!(@biased $biased @count $count @branches [$($branches)*]
            @else ({
                ::std::panic!(
                    "select!: every branch is disabled (a false precondition, or an output that \
                     did not match its pattern) and there is no `else` branch: add `else => ...`"
                )
            }))
    };
    // `else`, which must come last.
    (@biased $biased:tt @branches [$($branches:tt)*] @count $count:tt @rest else => $else:expr $(,)?) => {
        $crate::__select_emit!(@biased $biased @count $count @branches [$($branches)*] @else ($else))
    };
    // A branch with a precondition and a block handler (the comma after it is optional).
    (@biased $biased:tt @branches [$($branches:tt)*] @count ($($count:tt)*) @rest
        $pattern:pat = $future:expr, if $condition:expr => $handler:block $(, $($rest:tt)*)?) => {
        $crate::__select_parse!(@biased $biased
            @branches [$($branches)* (($pattern) ($future) ($condition) ($handler) ($($count)*) future output)]
            @count ($($count)* + 1) @rest $($($rest)*)?)
    };
    (@biased $biased:tt @branches [$($branches:tt)*] @count ($($count:tt)*) @rest
        $pattern:pat = $future:expr, if $condition:expr => $handler:block $($rest:tt)*) => {
        $crate::__select_parse!(@biased $biased
            @branches [$($branches)* (($pattern) ($future) ($condition) ($handler) ($($count)*) future output)]
            @count ($($count)* + 1) @rest $($rest)*)
    };
    // A branch with a precondition and an expression handler.
    (@biased $biased:tt @branches [$($branches:tt)*] @count ($($count:tt)*) @rest
        $pattern:pat = $future:expr, if $condition:expr => $handler:expr $(, $($rest:tt)*)?) => {
        $crate::__select_parse!(@biased $biased
            @branches [$($branches)* (($pattern) ($future) ($condition) ($handler) ($($count)*) future output)]
            @count ($($count)* + 1) @rest $($($rest)*)?)
    };
    // A branch without a precondition and a block handler.
    (@biased $biased:tt @branches [$($branches:tt)*] @count ($($count:tt)*) @rest
        $pattern:pat = $future:expr => $handler:block $(, $($rest:tt)*)?) => {
        $crate::__select_parse!(@biased $biased
            @branches [$($branches)* (($pattern) ($future) (true) ($handler) ($($count)*) future output)]
            @count ($($count)* + 1) @rest $($($rest)*)?)
    };
    (@biased $biased:tt @branches [$($branches:tt)*] @count ($($count:tt)*) @rest
        $pattern:pat = $future:expr => $handler:block $($rest:tt)*) => {
        $crate::__select_parse!(@biased $biased
            @branches [$($branches)* (($pattern) ($future) (true) ($handler) ($($count)*) future output)]
            @count ($($count)* + 1) @rest $($rest)*)
    };
    // A branch without a precondition and an expression handler.
    (@biased $biased:tt @branches [$($branches:tt)*] @count ($($count:tt)*) @rest
        $pattern:pat = $future:expr => $handler:expr $(, $($rest:tt)*)?) => {
        $crate::__select_parse!(@biased $biased
            @branches [$($branches)* (($pattern) ($future) (true) ($handler) ($($count)*) future output)]
            @count ($($count)* + 1) @rest $($($rest)*)?)
    };
    (@biased $biased:tt @branches [$($branches:tt)*] @count $count:tt @rest $($rest:tt)+) => {
        ::std::compile_error!(::std::concat!(
            "select!: expected `<pattern> = <future> => <handler>,` (with an optional \
             `, if <condition>` before `=>`), or a last `else => <expression>`, at: ",
            ::std::stringify!($($rest)+)
        ))
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __select_emit {
    (@biased $biased:tt @count ($($count:tt)*) @branches [$((
        ($pattern:tt) ($future:tt) ($condition:tt) ($handler:tt) ($($index:tt)*) $fut:ident $out:ident
    ))*] @else ($else:tt)) => {{
        const BRANCHES: u32 = $($count)*;
        const {
            ::std::assert!(BRANCHES <= 64, "select! takes at most 64 branches");
        }
        let mut disabled: u64 = 0;
        $(
            if !$condition {
                disabled |= 1u64 << ($($index)*);
            }
        )*
        $( let mut $out = ::std::option::Option::None; )*
        let winner: ::std::option::Option<u32> = {
            $( let mut $fut = $crate::__private::pin!($crate::__private::IntoFuture::into_future($future)); )*
            $crate::__private::poll_fn(|cx| {
                let start = if $biased { 0 } else { $crate::__private::random_start(BRANCHES) };
                for offset in 0..BRANCHES {
                    let branch = $crate::__private::nth_from(start, offset, BRANCHES);
                    $(
                        if branch == ($($index)*) && disabled & (1u64 << ($($index)*)) == 0 {
                            if let $crate::__private::Poll::Ready(value) =
                                $crate::__private::Future::poll($fut.as_mut(), cx)
                            {
                                // Done either way: a branch completes once per `select!`.
                                disabled |= 1u64 << ($($index)*);
                                #[allow(unused_variables, irrefutable_let_patterns)]
                                if let $crate::__select_clean_pattern!($pattern) = &value {
                                    $out = ::std::option::Option::Some(value);
                                    return $crate::__private::Poll::Ready(::std::option::Option::Some(branch));
                                }
                            }
                        }
                    )*
                }
                if disabled.count_ones() == BRANCHES {
                    $crate::__private::Poll::Ready(::std::option::Option::None)
                } else {
                    $crate::__private::Poll::Pending
                }
            })
            .await
            // The futures are dropped here, before any handler runs.
        };
        match winner {
            $(
                ::std::option::Option::Some(branch) if branch == ($($index)*) => {
                    #[allow(unreachable_patterns)]
                    match $out.take().expect("select!: the winning branch stored its output") {
                        $pattern => $handler,
                        _ => ::std::unreachable!("select!: the output matched its pattern when tested"),
                    }
                }
            )*
            ::std::option::Option::Some(_) => ::std::unreachable!("select!: a branch index out of range"),
            ::std::option::Option::None => $else,
        }
    }};
}

/// Waits for every future (any `IntoFuture`) and returns their outputs as a tuple, in order;
/// tokio's `join!`. The futures run concurrently on the calling task (not in parallel: spawn
/// for that); each poll starts from the next one in turn, so none is always polled first.
///
/// ```
/// heist::Runtime::new().unwrap().block_on(async {
///     let (a, b, c) = heist::join!(async { 1 }, async { "two" }, std::future::ready(3.0));
///     assert_eq!((a, b, c), (1, "two", 3.0));
///     let () = heist::join!();
/// });
/// ```
#[macro_export]
macro_rules! join {
    ($($future:expr),* $(,)?) => {
        $crate::__join_parse!(@mode join @branches [] @count (0) @rest $($future,)*)
    };
}

/// Waits for every future, each giving a `Result`: `Ok` of the tuple of their `Ok` values once
/// all succeed, or the first `Err` as soon as one fails (the others are dropped then);
/// tokio's `try_join!`. The error types must be the same.
///
/// ```
/// heist::Runtime::new().unwrap().block_on(async {
///     let ok: Result<(u8, &str), String> = heist::try_join!(async { Ok(1) }, async { Ok("x") });
///     assert_eq!(ok, Ok((1, "x")));
///
///     let failed: Result<(u8, ()), &str> =
///         heist::try_join!(async { Ok(1) }, async { Err("nope") });
///     assert_eq!(failed, Err("nope"));
///
///     // The failure does not wait for the other futures.
///     let failed: Result<((), ()), &str> =
///         heist::try_join!(std::future::pending::<Result<(), &str>>(), async { Err("early") });
///     assert_eq!(failed, Err("early"));
/// });
/// ```
#[macro_export]
macro_rules! try_join {
    ($($future:expr),* $(,)?) => {
        $crate::__join_parse!(@mode try_join @branches [] @count (0) @rest $($future,)*)
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __join_parse {
    (@mode $mode:ident @branches [$($branches:tt)*] @count $count:tt @rest) => {
        $crate::__join_emit!(@mode $mode @count $count @branches [$($branches)*])
    };
    (@mode $mode:ident @branches [$($branches:tt)*] @count ($($count:tt)*) @rest $future:expr, $($rest:tt)*) => {
        $crate::__join_parse!(@mode $mode
            @branches [$($branches)* (($future) ($($count)*) future output)]
            @count ($($count)* + 1) @rest $($rest)*)
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __join_emit {
    (@mode join @count ($($count:tt)*) @branches [$((($future:tt) ($($index:tt)*) $fut:ident $out:ident))*]) => {{
        const BRANCHES: u32 = $($count)*;
        $( let mut $out = ::std::option::Option::None; )*
        {
            $( let mut $fut = $crate::__private::pin!(::std::option::Option::Some(
                $crate::__private::IntoFuture::into_future($future))); )*
            let mut next_first: u32 = 0;
            $crate::__private::poll_fn(|cx| {
                let start = next_first;
                next_first = $crate::__private::nth_from(next_first, 1, BRANCHES);
                let mut pending = false;
                for offset in 0..BRANCHES {
                    let branch = $crate::__private::nth_from(start, offset, BRANCHES);
                    $(
                        if branch == ($($index)*) {
                            if let ::std::option::Option::Some(future) = $fut.as_mut().as_pin_mut() {
                                match $crate::__private::Future::poll(future, cx) {
                                    $crate::__private::Poll::Ready(value) => {
                                        $out = ::std::option::Option::Some(value);
                                        // Dropped as soon as it is done, in place.
                                        $fut.set(::std::option::Option::None);
                                    }
                                    $crate::__private::Poll::Pending => pending = true,
                                }
                            }
                        }
                    )*
                }
                if pending {
                    $crate::__private::Poll::Pending
                } else {
                    $crate::__private::Poll::Ready(())
                }
            })
            .await;
        }
        ($( $out.take().expect("join!: every future completed"), )*)
    }};
    (@mode try_join @count ($($count:tt)*) @branches [$((($future:tt) ($($index:tt)*) $fut:ident $out:ident))*]) => {{
        const BRANCHES: u32 = $($count)*;
        $( let mut $out = ::std::option::Option::None; )*
        let failed = {
            $( let mut $fut = $crate::__private::pin!(::std::option::Option::Some(
                $crate::__private::IntoFuture::into_future($future))); )*
            let mut next_first: u32 = 0;
            $crate::__private::poll_fn(|cx| {
                let start = next_first;
                next_first = $crate::__private::nth_from(next_first, 1, BRANCHES);
                let mut pending = false;
                for offset in 0..BRANCHES {
                    let branch = $crate::__private::nth_from(start, offset, BRANCHES);
                    $(
                        if branch == ($($index)*) {
                            if let ::std::option::Option::Some(future) = $fut.as_mut().as_pin_mut() {
                                match $crate::__private::Future::poll(future, cx) {
                                    $crate::__private::Poll::Ready(::std::result::Result::Ok(value)) => {
                                        $out = ::std::option::Option::Some(value);
                                        $fut.set(::std::option::Option::None);
                                    }
                                    $crate::__private::Poll::Ready(::std::result::Result::Err(error)) => {
                                        return $crate::__private::Poll::Ready(::std::option::Option::Some(error));
                                    }
                                    $crate::__private::Poll::Pending => pending = true,
                                }
                            }
                        }
                    )*
                }
                if pending {
                    $crate::__private::Poll::Pending
                } else {
                    $crate::__private::Poll::Ready(::std::option::Option::None)
                }
            })
            .await
            // The futures are dropped here, the unfinished ones too when one failed.
        };
        match failed {
            ::std::option::Option::Some(error) => ::std::result::Result::Err(error),
            ::std::option::Option::None => ::std::result::Result::Ok((
                $( $out.take().expect("try_join!: every future succeeded"), )*
            )),
        }
    }};
}
