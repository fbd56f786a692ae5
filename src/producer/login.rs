//! The OAUTHBEARER login of a starting producer: the provider (the one given to the builder,
//! else the configured unsecured or OIDC login) and the login thread that keeps its token
//! fresh ([`TokenCache`]).

use crate::config::ProducerConfig;
use crate::error::Error;
use crate::net::sasl::oauthbearer::OAuthBearerTokenProvider;
use crate::net::sasl::token::TokenCache;
use std::sync::Arc;

/// Starts the login thread when the configuration uses OAUTHBEARER.
///
/// # Errors
///
/// [`Error::Config`] when OAUTHBEARER has no token source, or a provider is given without
/// OAUTHBEARER; [`Error::Startup`] when the thread cannot be spawned.
pub(super) fn start(
    config: &ProducerConfig,
    given: Option<Arc<dyn OAuthBearerTokenProvider>>,
) -> Result<Option<Arc<TokenCache>>, Error> {
    let Some(oauth) = config.oauth_config() else {
        if given.is_some() {
            return Err(Error::config(
                "sasl.mechanism",
                "an OAUTHBEARER token provider was given, but the configuration does not use \
                 OAUTHBEARER: set security.protocol=SASL_SSL (or SASL_PLAINTEXT) and \
                 sasl.mechanism=OAUTHBEARER",
            ));
        }
        return Ok(None);
    };
    let configured = oauth.provider();
    let provider = match (given, configured) {
        (Some(p), configured) => {
            if configured.is_some() {
                log::info!(
                    "the OAUTHBEARER token provider given to the builder replaces the login \
                     configured by sasl.jaas.config"
                );
            }
            p
        }
        (None, Some(p)) => p,
        (None, None) => {
            return Err(Error::config(
                "sasl.jaas.config",
                "OAUTHBEARER needs a source of tokens: OAuthBearerLoginModule with \
                 unsecuredLoginStringClaim_sub=\"...\" (development brokers), \
                 sasl.login.callback.handler.class=org.apache.kafka.common.security.\
                 oauthbearer.OAuthBearerLoginCallbackHandler with \
                 sasl.oauthbearer.token.endpoint.url (OIDC), or a provider given with \
                 Producer::builder(config).oauth_token_provider(..)",
            ))
        }
    };
    TokenCache::start(provider, oauth.refresh, config.client_id())
        .map(Some)
        .map_err(|e| Error::startup("cannot spawn the OAUTHBEARER login thread", e))
}
