//! The OAUTHBEARER token a producer authenticates with: fetched from its provider on a login
//! thread of its own, cached, and refreshed ahead of expiry with the timing rules of Java's
//! `ExpiringCredentialRefreshingLogin`; a failed fetch is retried with exponential backoff
//! (`sasl.login.retry.backoff.ms` to `sasl.login.retry.backoff.max.ms`).
//!
//! The decisions are pure functions of the state and `now` ([`refresh_at_ms`], [`State`]); the
//! thread is a thin shell that sleeps until the next fetch is due. Connections read the latest
//! token with [`TokenCache::current`] when a SASL exchange starts (a first authentication or,
//! later, a re-authentication); nothing there waits for the provider.

use super::oauthbearer::{epoch_ms, OAuthBearerToken, OAuthBearerTokenProvider};
use parking_lot::{Condvar, Mutex};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, SystemTime};

/// The `sasl.login.refresh.*` and `sasl.login.retry.*` settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct RefreshConfig {
    /// `sasl.login.refresh.window.factor` (0.8).
    pub window_factor: f64,
    /// `sasl.login.refresh.window.jitter` (0.05).
    pub window_jitter: f64,
    /// `sasl.login.refresh.min.period.seconds` (60).
    pub min_period: Duration,
    /// `sasl.login.refresh.buffer.seconds` (300).
    pub buffer: Duration,
    /// `sasl.login.retry.backoff.ms` (100).
    pub retry_backoff: Duration,
    /// `sasl.login.retry.backoff.max.ms` (10000).
    pub retry_backoff_max: Duration,
}

impl Default for RefreshConfig {
    fn default() -> Self {
        RefreshConfig {
            window_factor: 0.8,
            window_jitter: 0.05,
            min_period: Duration::from_secs(60),
            buffer: Duration::from_secs(300),
            retry_backoff: Duration::from_millis(100),
            retry_backoff_max: Duration::from_millis(10_000),
        }
    }
}

/// Where OAUTHBEARER tokens come from, as the configuration says.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum OAuthLogin {
    /// From an [`OAuthBearerTokenProvider`] given to the producer builder (Java: a custom
    /// `sasl.login.callback.handler.class`).
    Provided,
    /// Java's unsecured login (`unsecuredLogin*` options).
    Unsecured(super::unsecured::UnsecuredLogin),
    /// The OIDC client-credentials login.
    #[cfg(feature = "oauth-oidc")]
    ClientCredentials(super::oidc::ClientCredentials),
}

/// OAUTHBEARER's configuration: the login and its refresh timing.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct OAuthConfig {
    pub login: OAuthLogin,
    pub refresh: RefreshConfig,
}

impl OAuthConfig {
    /// The provider the configuration itself gives (`None`: one must be given to the builder).
    pub fn provider(&self) -> Option<Arc<dyn OAuthBearerTokenProvider>> {
        match &self.login {
            OAuthLogin::Provided => None,
            OAuthLogin::Unsecured(u) => Some(Arc::new(u.clone())),
            #[cfg(feature = "oauth-oidc")]
            OAuthLogin::ClientCredentials(c) => Some(Arc::new(c.clone())),
        }
    }
}

/// Java's delay before fetching again when a token was already expired when it came.
const EXPIRED_RETRY_MS: i64 = 10_000;

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// When to fetch a new token, for a token valid from `start_ms` (when it came, if the token
/// does not say) to `expiry_ms`, received at `now_ms`; `random` is uniform in [0, 1). Java's
/// `ExpiringCredentialRefreshingLogin.refreshMs`: at `window_factor` (plus up to
/// `window_jitter`) of the lifetime, but no later than `buffer` before expiry and no sooner
/// than `min_period` from now; when the remaining lifetime cannot hold both, at that fraction
/// of the remaining lifetime. An expired token is fetched again 10 s later.
pub(crate) fn refresh_at_ms(
    cfg: &RefreshConfig,
    now_ms: i64,
    start_ms: Option<i64>,
    expiry_ms: i64,
    random: f64,
) -> i64 {
    if now_ms > expiry_ms {
        return now_ms.saturating_add(EXPIRED_RETRY_MS);
    }
    let pct = cfg.window_factor + cfg.window_jitter * random;
    let (min_period, buffer) = (ms(cfg.min_period), ms(cfg.buffer));
    if now_ms.saturating_add(min_period.saturating_add(buffer)) > expiry_ms {
        return now_ms + ((expiry_ms - now_ms) as f64 * pct) as i64;
    }
    let start = start_ms.unwrap_or(now_ms);
    let proposed = start.saturating_add((expiry_ms.saturating_sub(start) as f64 * pct) as i64);
    let end_buffer = expiry_ms - buffer;
    if proposed > end_buffer {
        return end_buffer;
    }
    let min_refresh = now_ms + min_period;
    if proposed < min_refresh {
        return min_refresh;
    }
    proposed
}

/// What a SASL exchange gets when it asks for the token.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum TokenAnswer {
    /// Authenticate with this token.
    Ready(Arc<OAuthBearerToken>),
    /// The first token is being fetched: try the connection again shortly.
    NotYet,
    /// The provider failed and no token is valid: authentication fails with this reason.
    Failed(String),
}

/// The cache's state: the latest token, when to fetch the next, the failures since the last
/// success.
#[derive(Debug, Default)]
pub(crate) struct State {
    token: Option<Arc<OAuthBearerToken>>,
    /// When the login thread fetches next (ms since the epoch); 0: at once.
    pub next_fetch_ms: i64,
    failures: u32,
    last_error: Option<String>,
}

impl State {
    /// The answer for a SASL exchange starting at `now_ms`: the latest token unless it expired
    /// while fetching a new one failed (an expired token is still sent while no fetch failed:
    /// the broker's refusal then says so).
    pub fn answer(&self, now_ms: i64) -> TokenAnswer {
        match (&self.token, &self.last_error) {
            (Some(t), None) => TokenAnswer::Ready(t.clone()),
            (Some(t), Some(_)) if epoch_ms(t.expires_at()) > now_ms => {
                TokenAnswer::Ready(t.clone())
            }
            (_, Some(e)) => TokenAnswer::Failed(format!(
                "the OAUTHBEARER token provider failed ({} failed attempt{} so far; it is \
                 retried with backoff): {e}",
                self.failures,
                if self.failures == 1 { "" } else { "s" }
            )),
            (None, None) => TokenAnswer::NotYet,
        }
    }

    /// Takes a fetch's result at `now_ms` and sets when to fetch next.
    pub fn on_fetched(
        &mut self,
        cfg: &RefreshConfig,
        result: Result<OAuthBearerToken, String>,
        now_ms: i64,
        random: f64,
    ) {
        let result = result.and_then(|t| {
            t.check()
                .map(|()| t)
                .map_err(|e| format!("the provider's token is unusable: {e}"))
        });
        match result {
            Ok(t) => {
                let expiry = epoch_ms(t.expires_at());
                let start = t.start_time().map(epoch_ms);
                self.next_fetch_ms = refresh_at_ms(cfg, now_ms, start, expiry, random);
                if expiry <= now_ms {
                    log::warn!(
                        "the OAUTHBEARER token for {} expired {} s ago already; fetching \
                         another in {} s",
                        t.principal_name(),
                        (now_ms - expiry) / 1000,
                        EXPIRED_RETRY_MS / 1000
                    );
                } else {
                    log::info!(
                        "OAUTHBEARER token for principal {} valid for {} s; refreshing in {} s",
                        t.principal_name(),
                        (expiry - now_ms) / 1000,
                        (self.next_fetch_ms - now_ms) / 1000
                    );
                }
                self.token = Some(Arc::new(t));
                self.failures = 0;
                self.last_error = None;
            }
            Err(e) => {
                self.failures = self.failures.saturating_add(1);
                let base = ms(cfg.retry_backoff).max(1);
                let wait = base
                    .saturating_mul(1i64 << (self.failures - 1).min(30))
                    .min(ms(cfg.retry_backoff_max).max(base));
                log::warn!(
                    "the OAUTHBEARER token provider failed (attempt {}), trying again in {wait} \
                     ms: {e}",
                    self.failures
                );
                self.next_fetch_ms = now_ms.saturating_add(wait);
                self.last_error = Some(e);
            }
        }
    }
}

/// The token shared by a producer's connections, and the login thread that keeps it fresh.
/// Connections hold it in their SASL settings and ask [`current`](Self::current).
pub(crate) struct TokenCache {
    state: Mutex<State>,
    wake: Condvar,
    stopped: AtomicBool,
}

impl std::fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenCache")
    }
}

impl TokenCache {
    /// Starts the login thread for `provider`; its first fetch begins at once.
    pub fn start(
        provider: Arc<dyn OAuthBearerTokenProvider>,
        cfg: RefreshConfig,
        name: &str,
    ) -> std::io::Result<Arc<TokenCache>> {
        let cache = Arc::new(TokenCache {
            state: Mutex::new(State::default()),
            wake: Condvar::new(),
            stopped: AtomicBool::new(false),
        });
        let weak = Arc::downgrade(&cache);
        std::thread::Builder::new()
            .name(format!("kafka-producer-login-thread | {name}"))
            .spawn(move || login_thread(weak, provider, cfg))?;
        Ok(cache)
    }

    /// A cache with this state and no login thread (unit tests of the exchanges).
    #[cfg(test)]
    pub fn fixed(state: State) -> Arc<TokenCache> {
        Arc::new(TokenCache {
            state: Mutex::new(state),
            wake: Condvar::new(),
            stopped: AtomicBool::new(true),
        })
    }

    /// Replaces a [`fixed`](Self::fixed) cache's state, as a fetch would.
    #[cfg(test)]
    pub fn set(&self, state: State) {
        *self.state.lock() = state;
    }

    /// The token for a SASL exchange starting now.
    pub fn current(&self) -> TokenAnswer {
        self.state.lock().answer(epoch_ms(SystemTime::now()))
    }

    /// Ends the login thread (when the producer is dropped).
    pub fn stop(&self) {
        self.stopped.store(true, Ordering::Release);
        let _guard = self.state.lock();
        self.wake.notify_all();
    }
}

/// The longest the login thread sleeps before checking that its producer still exists.
const MAX_SLEEP: Duration = Duration::from_secs(30);

fn login_thread(
    cache: Weak<TokenCache>,
    provider: Arc<dyn OAuthBearerTokenProvider>,
    cfg: RefreshConfig,
) {
    let rng = crate::backoff::Rng::new();
    loop {
        // Sleep until the next fetch is due (holding the cache only while waiting).
        {
            let Some(c) = cache.upgrade() else { return };
            let mut state = c.state.lock();
            loop {
                if c.stopped.load(Ordering::Acquire) {
                    return;
                }
                let now = epoch_ms(SystemTime::now());
                if now >= state.next_fetch_ms {
                    break;
                }
                let wait = Duration::from_millis((state.next_fetch_ms - now) as u64).min(MAX_SLEEP);
                if c.wake.wait_for(&mut state, wait).timed_out() && wait == MAX_SLEEP {
                    break; // let go of the cache to see whether the producer is gone
                }
            }
            let now = epoch_ms(SystemTime::now());
            if now < state.next_fetch_ms {
                continue;
            }
        }
        // Fetch without holding anything: the provider may block (an HTTP call).
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| provider.token()))
            .unwrap_or_else(|_| Err("the token provider panicked".into()))
            .map_err(|e| e.to_string());
        let Some(c) = cache.upgrade() else { return };
        if c.stopped.load(Ordering::Acquire) {
            return;
        }
        let now = epoch_ms(SystemTime::now());
        c.state
            .lock()
            .on_fetched(&cfg, result, now, rng.next_unit());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::sasl::oauthbearer::from_epoch_ms;

    const S: i64 = 1000;
    const NOW: i64 = 1_700_000_000_000;

    #[test]
    fn refresh_at_the_window_factor_of_the_lifetime() {
        let cfg = RefreshConfig::default();
        // 1 h token: 80% of it (48 min), plus up to 5% jitter
        assert_eq!(
            refresh_at_ms(&cfg, NOW, None, NOW + 3600 * S, 0.0),
            NOW + 2880 * S
        );
        assert_eq!(
            refresh_at_ms(&cfg, NOW, None, NOW + 3600 * S, 0.5),
            NOW + 2970 * S
        );
        // from the token's start time, not from now
        assert_eq!(
            refresh_at_ms(&cfg, NOW, Some(NOW - 600 * S), NOW + 3000 * S, 0.0),
            NOW + 2280 * S
        );
    }

    #[test]
    fn refresh_respects_buffer_and_min_period() {
        let cfg = RefreshConfig::default();
        // 24 h token: at 80%, well clear of both the buffer and the min period
        assert_eq!(
            refresh_at_ms(&cfg, NOW, None, NOW + 86_400 * S, 0.0),
            NOW + 69_120 * S
        );
        // a factor of 1.0 would reach into the end buffer: refresh 300 s before expiry
        let late = RefreshConfig {
            window_factor: 1.0,
            ..cfg
        };
        assert_eq!(
            refresh_at_ms(&late, NOW, None, NOW + 3600 * S, 0.0),
            NOW + 3300 * S
        );
        // a start long ago puts the proposal before now + min period: min period wins
        assert_eq!(
            refresh_at_ms(&cfg, NOW, Some(NOW - 100_000 * S), NOW + 1000 * S, 0.0),
            NOW + 60 * S
        );
        // remaining lifetime shorter than min period + buffer (360 s): fraction of what is left
        assert_eq!(
            refresh_at_ms(&cfg, NOW, None, NOW + 300 * S, 0.0),
            NOW + 240 * S
        );
        assert_eq!(
            refresh_at_ms(&cfg, NOW, Some(NOW - 9999 * S), NOW + 100 * S, 1.0),
            NOW + 85 * S
        );
        // expired already: 10 s
        assert_eq!(refresh_at_ms(&cfg, NOW, None, NOW - 1, 0.3), NOW + 10 * S);
    }

    fn token(expiry_ms: i64) -> OAuthBearerToken {
        OAuthBearerToken::new("a.b.c", from_epoch_ms(expiry_ms), "alice")
    }

    #[test]
    fn answers_follow_fetches() {
        let cfg = RefreshConfig::default();
        let mut s = State::default();
        assert_eq!(s.answer(NOW), TokenAnswer::NotYet);
        assert_eq!(s.next_fetch_ms, 0);
        s.on_fetched(&cfg, Ok(token(NOW + 3600 * S)), NOW, 0.0);
        assert!(matches!(s.answer(NOW), TokenAnswer::Ready(t) if t.value() == "a.b.c"));
        assert_eq!(s.next_fetch_ms, NOW + 2880 * S);
        // a failed refresh keeps the token while it is valid, retried with backoff
        s.on_fetched(&cfg, Err("idp down".into()), NOW + 2880 * S, 0.0);
        assert_eq!(s.next_fetch_ms, NOW + 2880 * S + 100);
        assert!(matches!(s.answer(NOW + 2900 * S), TokenAnswer::Ready(_)));
        let mut t = NOW + 2880 * S;
        let mut waits = Vec::new();
        for _ in 0..9 {
            t = s.next_fetch_ms;
            s.on_fetched(&cfg, Err("idp down".into()), t, 0.0);
            waits.push(s.next_fetch_ms - t);
        }
        assert_eq!(
            waits,
            [200, 400, 800, 1600, 3200, 6400, 10_000, 10_000, 10_000]
        );
        // once expired, the failure is the answer
        let TokenAnswer::Failed(e) = s.answer(NOW + 3600 * S) else {
            panic!("expected a failure");
        };
        assert!(
            e.contains("idp down") && e.contains("10 failed attempts"),
            "{e}"
        );
        // recovery clears the failure
        s.on_fetched(&cfg, Ok(token(t + 3600 * S)), t, 0.0);
        assert!(matches!(s.answer(t), TokenAnswer::Ready(_)));
    }

    #[test]
    fn first_fetch_failing_fails_at_once_and_bad_tokens_count_as_failures() {
        let cfg = RefreshConfig::default();
        let mut s = State::default();
        s.on_fetched(&cfg, Err("no".into()), NOW, 0.0);
        assert!(
            matches!(s.answer(NOW), TokenAnswer::Failed(e) if e.contains("1 failed attempt so"))
        );
        s.on_fetched(
            &cfg,
            Ok(token(NOW + 3600 * S).with_extension("auth", "x")),
            NOW,
            0.0,
        );
        assert!(matches!(s.answer(NOW), TokenAnswer::Failed(e) if e.contains("reserved")));
        // an expired token with no failure is still sent (the broker says why it refuses)
        let mut s = State::default();
        s.on_fetched(&cfg, Ok(token(NOW - S)), NOW, 0.0);
        assert!(matches!(s.answer(NOW), TokenAnswer::Ready(_)));
        assert_eq!(s.next_fetch_ms, NOW + 10 * S);
    }

    #[test]
    fn the_login_thread_fetches_refreshes_and_stops() {
        use std::sync::atomic::AtomicU32;
        let calls = Arc::new(AtomicU32::new(0));
        let c2 = calls.clone();
        let provider =
            move || -> Result<OAuthBearerToken, super::super::oauthbearer::TokenProviderError> {
                let n = c2.fetch_add(1, Ordering::SeqCst);
                if n == 0 {
                    return Err("first call fails".into());
                }
                Ok(OAuthBearerToken::new(
                    format!("tok{n}"),
                    SystemTime::now() + Duration::from_secs(3600),
                    "p",
                ))
            };
        let cfg = RefreshConfig {
            retry_backoff: Duration::from_millis(10),
            ..RefreshConfig::default()
        };
        let cache = TokenCache::start(Arc::new(provider), cfg, "test").unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let token = loop {
            if let TokenAnswer::Ready(t) = cache.current() {
                break t;
            }
            assert!(std::time::Instant::now() < deadline, "no token");
            std::thread::sleep(Duration::from_millis(5));
        };
        assert_eq!(token.value(), "tok1");
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        cache.stop();
    }

    #[test]
    fn a_failing_provider_is_retried_until_stopped() {
        use std::sync::atomic::AtomicU32;
        let calls = Arc::new(AtomicU32::new(0));
        let c2 = calls.clone();
        let provider =
            move || -> Result<OAuthBearerToken, super::super::oauthbearer::TokenProviderError> {
                c2.fetch_add(1, Ordering::SeqCst);
                Err("down".into())
            };
        let cfg = RefreshConfig {
            retry_backoff: Duration::from_millis(5),
            retry_backoff_max: Duration::from_millis(10),
            ..RefreshConfig::default()
        };
        let cache = TokenCache::start(Arc::new(provider), cfg, "test").unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while calls.load(Ordering::SeqCst) < 4 {
            assert!(std::time::Instant::now() < deadline, "not retried");
            std::thread::sleep(Duration::from_millis(2));
        }
        assert!(matches!(cache.current(), TokenAnswer::Failed(e) if e.contains("down")));
        cache.stop();
        let at_stop = calls.load(Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(200));
        // at most the call that was under way when it stopped (20 more without the stop)
        assert!(calls.load(Ordering::SeqCst) <= at_stop + 1);
    }
}
