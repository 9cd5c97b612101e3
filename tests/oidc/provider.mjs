// A real OpenID Provider for the test suite: the npm package oidc-provider
// (OpenID Certified), with one confidential client (PKCE required), users
// with a groups claim, and RP-initiated logout. Configured by the test
// through the environment:
//   OIDC_TEST_ISSUER        http://127.0.0.1:<port>
//   OIDC_TEST_CLIENT        JSON {client_id, client_secret, redirect_uris, post_logout_redirect_uris}
//   OIDC_TEST_USERS_FILE    a JSON file {login: {email, given_name, family_name, groups}},
//                           read at every sign-in (a test changes someone's groups at the "IdP")
// It prints "oidc-provider listening" once it accepts connections.
import { readFileSync } from 'node:fs';

import Provider from 'oidc-provider';

const issuer = process.env.OIDC_TEST_ISSUER;
const client = JSON.parse(process.env.OIDC_TEST_CLIENT);
const users = () => JSON.parse(readFileSync(process.env.OIDC_TEST_USERS_FILE, 'utf8'));

const provider = new Provider(issuer, {
  clients: [{
    ...client,
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_post',
  }],
  // Every authorization must carry a PKCE challenge (S256).
  pkce: { required: () => true },
  scopes: ['openid', 'email', 'profile', 'groups'],
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['preferred_username', 'given_name', 'family_name', 'name'],
    groups: ['groups'],
  },
  features: {
    devInteractions: { enabled: true },
    rpInitiatedLogout: { enabled: true },
  },
  cookies: { keys: ['oidc-provider-test-only-cookie-key'] },
  async findAccount(ctx, sub) {
    const user = users()[sub];
    if (!user) return undefined;
    return {
      accountId: sub,
      async claims() {
        return {
          sub,
          preferred_username: sub,
          email: user.email,
          email_verified: true,
          given_name: user.given_name,
          family_name: user.family_name,
          name: `${user.given_name} ${user.family_name}`,
          groups: user.groups,
        };
      },
    };
  },
});
// Plain HTTP on loopback for the test; a real IdP is HTTPS.
provider.proxy = false;

const { port, hostname } = new URL(issuer);
provider.listen(Number(port), hostname, () => {
  console.log('oidc-provider listening');
});
