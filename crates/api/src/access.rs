//! Roles and the access each operation declares. [`Access::decide`] is the only place that
//! says whether a caller may reach an operation; the server applies it before any handler
//! runs, and the access-matrix test derives its expectations from the same table.

/// The role of an API token (or of the admin-screen session signed in with it). Each
/// role's title is how the admin screen names it (read from the OpenAPI document).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Service-provider administrator: every tenant, tenants themselves, entitlements, keys.
    #[schemars(title = "Service-provider admin")]
    SpAdmin,
    /// Administers the accounts of one tenant.
    #[schemars(title = "Tenant admin")]
    TenantAdmin,
    /// Reads the accounts of one tenant.
    #[schemars(title = "Viewer")]
    TenantViewer,
    /// Sends the agent and service events and the recordings of one tenant (the
    /// contact-center platform); nothing else.
    #[schemars(title = "Event producer")]
    EventProducer,
    /// Calls the runtime gateway of one tenant (the contact center's applications: agent
    /// desktop, scenario engine, IVR); nothing else.
    #[schemars(title = "Gateway client")]
    GatewayClient,
}

impl Role {
    pub const ALL: [Role; 5] =
        [Role::SpAdmin, Role::TenantAdmin, Role::TenantViewer, Role::EventProducer, Role::GatewayClient];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::SpAdmin => "sp_admin",
            Role::TenantAdmin => "tenant_admin",
            Role::TenantViewer => "tenant_viewer",
            Role::EventProducer => "event_producer",
            Role::GatewayClient => "gateway_client",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// Whether tokens of this role belong to one tenant.
    pub fn is_tenant_bound(self) -> bool {
        self != Role::SpAdmin
    }

    /// Whether a token of this role may sign in to the admin screen: people's roles may;
    /// an application's token (event producer, gateway client) only calls the API.
    pub fn signs_in(self) -> bool {
        matches!(self, Role::SpAdmin | Role::TenantAdmin | Role::TenantViewer)
    }
}

/// Who may call an operation. Tenant-scoped kinds read the tenant from the `{tenant}` path
/// parameter; a token of another tenant is answered 404, so that tenant's existence stays
/// hidden.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Access {
    /// No token needed.
    Public,
    /// Any valid token.
    Caller,
    /// Reads the tenant's resources: its admins and viewers.
    TenantRead,
    /// Changes the tenant's resources: its admins.
    TenantWrite,
    /// Sends the tenant's agent and service events: its admins and event producers.
    TenantEvents,
    /// Sends the tenant's recordings (metadata and audio): its admins and event producers.
    TenantRecordings,
    /// Uses the tenant's accounts through the runtime gateway: its admins and gateway clients.
    TenantGateway,
    /// Changes a tenant itself (name, entitlements, deletion): the service provider only.
    TenantProvider,
    /// Manages API tokens: the service provider, and tenant admins for their own tenant.
    Tokens,
    /// Service-wide resources (tenants as a set, master keys): the service provider only.
    Provider,
    /// The API Zapier calls: HTTP Basic with the username and password of one of the
    /// tenant's enabled Zapier accounts, checked by the server before `decide`; no token
    /// of any role reaches it.
    Zapier,
}

/// Why a caller is refused: the status and the message the problem+json carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denial {
    /// 401: no token, or an unknown or revoked one.
    Unauthenticated,
    /// 403, with the reason.
    Forbidden(&'static str),
    /// 404: the tenant is not the caller's.
    TenantNotFound,
}

impl Denial {
    pub fn status(self) -> u16 {
        match self {
            Denial::Unauthenticated => 401,
            Denial::Forbidden(_) => 403,
            Denial::TenantNotFound => 404,
        }
    }
}

/// Why a request of the Zapier API is not let in: no Basic credentials, or not those of an
/// enabled Zapier account of the tenant (the same answer for both).
pub const ZAPIER_CREDENTIALS: &str =
    "send `Authorization: Basic` with the username and password of an enabled Zapier account of this tenant";

const PROVIDER_ONLY: &str = "only a service-provider admin may do this";
const PRODUCER_ONLY: &str = "an event producer token can only send events and recordings";
const GATEWAY_ONLY: &str = "a gateway client token can only call the runtime gateway";

impl Access {
    pub const ALL: [Access; 11] = [
        Access::Public,
        Access::Caller,
        Access::TenantRead,
        Access::TenantWrite,
        Access::TenantEvents,
        Access::TenantRecordings,
        Access::TenantGateway,
        Access::TenantProvider,
        Access::Tokens,
        Access::Provider,
        Access::Zapier,
    ];

    /// Whether the operation's path carries the `{tenant}` this access is checked against.
    pub fn is_tenant_scoped(self) -> bool {
        matches!(
            self,
            Access::TenantRead
                | Access::TenantWrite
                | Access::TenantEvents
                | Access::TenantRecordings
                | Access::TenantGateway
                | Access::TenantProvider
        )
    }

    /// May a caller with `role`, bound to `own` tenant (none for the service provider), reach
    /// an operation of this access on `tenant` (the path's, for tenant-scoped kinds)?
    /// `caller` is `None` without a valid token.
    pub fn decide(self, caller: Option<(Role, Option<&str>)>, tenant: Option<&str>) -> Result<(), Denial> {
        if self == Access::Public {
            return Ok(());
        }
        let Some((role, own)) = caller else { return Err(Denial::Unauthenticated) };
        if self.is_tenant_scoped() && role != Role::SpAdmin && (own.is_none() || own != tenant) {
            return Err(Denial::TenantNotFound);
        }
        match (self, role) {
            // Tokens are no credentials there: the server admits Zapier's own before this.
            (Access::Zapier, _) => Err(Denial::Unauthenticated),
            (_, Role::SpAdmin) | (Access::Public | Access::Caller, _) => Ok(()),
            (Access::TenantProvider, Role::EventProducer) => Err(Denial::Forbidden(PRODUCER_ONLY)),
            (Access::TenantGateway, Role::TenantAdmin | Role::GatewayClient) => Ok(()),
            (Access::TenantGateway, Role::EventProducer) => Err(Denial::Forbidden(PRODUCER_ONLY)),
            (Access::TenantGateway, Role::TenantViewer) => {
                Err(Denial::Forbidden("a viewer token cannot call the runtime gateway"))
            }
            (_, Role::GatewayClient) => Err(Denial::Forbidden(GATEWAY_ONLY)),
            (Access::Provider | Access::TenantProvider, _) => Err(Denial::Forbidden(PROVIDER_ONLY)),
            (Access::TenantRead | Access::TenantWrite, Role::EventProducer) => Err(Denial::Forbidden(PRODUCER_ONLY)),
            (Access::TenantRead, _) => Ok(()),
            (Access::TenantWrite, Role::TenantViewer) => {
                Err(Denial::Forbidden("a viewer token cannot change anything"))
            }
            (Access::TenantWrite, _) => Ok(()),
            (Access::TenantEvents, Role::TenantViewer) => Err(Denial::Forbidden("a viewer token cannot send events")),
            (Access::TenantRecordings, Role::TenantViewer) => {
                Err(Denial::Forbidden("a viewer token cannot send recordings"))
            }
            (Access::TenantEvents | Access::TenantRecordings, _) => Ok(()),
            (Access::Tokens, Role::TenantAdmin) => Ok(()),
            (Access::Tokens, _) => Err(Denial::Forbidden("only an admin token can manage tokens")),
        }
    }
}

impl Access {
    /// Which tokens a caller admitted to [`Access::Tokens`] may create, see and revoke: the
    /// service provider any; a tenant admin those of its own tenant (never a
    /// service-provider token). `token_tenant` is the tenant of the token acted on.
    pub fn manage_token(caller: (Role, Option<&str>), token_tenant: Option<&str>) -> Result<(), Denial> {
        match (caller, token_tenant) {
            ((Role::SpAdmin, _), _) => Ok(()),
            ((Role::TenantAdmin, Some(own)), Some(tenant)) if own == tenant => Ok(()),
            ((Role::TenantAdmin, _), Some(_)) => Err(Denial::TenantNotFound),
            _ => Err(Denial::Forbidden("this token cannot create tokens of that role")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The whole rule written out as a table, independent of `decide`'s match: who gets
    /// what on their own tenant and on another one.
    #[test]
    fn each_access_answers_each_role_as_documented() {
        // (access, role, own-tenant status, other-tenant status); 200 = allowed.
        let table: &[(Access, Role, u16, u16)] = &[
            (Access::Caller, Role::SpAdmin, 200, 200),
            (Access::Caller, Role::TenantAdmin, 200, 200),
            (Access::Caller, Role::TenantViewer, 200, 200),
            (Access::Caller, Role::EventProducer, 200, 200),
            (Access::Caller, Role::GatewayClient, 200, 200),
            (Access::TenantRead, Role::SpAdmin, 200, 200),
            (Access::TenantRead, Role::TenantAdmin, 200, 404),
            (Access::TenantRead, Role::TenantViewer, 200, 404),
            (Access::TenantRead, Role::EventProducer, 403, 404),
            (Access::TenantRead, Role::GatewayClient, 403, 404),
            (Access::TenantWrite, Role::SpAdmin, 200, 200),
            (Access::TenantWrite, Role::TenantAdmin, 200, 404),
            (Access::TenantWrite, Role::TenantViewer, 403, 404),
            (Access::TenantWrite, Role::EventProducer, 403, 404),
            (Access::TenantWrite, Role::GatewayClient, 403, 404),
            (Access::TenantEvents, Role::SpAdmin, 200, 200),
            (Access::TenantEvents, Role::TenantAdmin, 200, 404),
            (Access::TenantEvents, Role::TenantViewer, 403, 404),
            (Access::TenantEvents, Role::EventProducer, 200, 404),
            (Access::TenantEvents, Role::GatewayClient, 403, 404),
            (Access::TenantRecordings, Role::SpAdmin, 200, 200),
            (Access::TenantRecordings, Role::TenantAdmin, 200, 404),
            (Access::TenantRecordings, Role::TenantViewer, 403, 404),
            (Access::TenantRecordings, Role::EventProducer, 200, 404),
            (Access::TenantRecordings, Role::GatewayClient, 403, 404),
            (Access::TenantGateway, Role::SpAdmin, 200, 200),
            (Access::TenantGateway, Role::TenantAdmin, 200, 404),
            (Access::TenantGateway, Role::TenantViewer, 403, 404),
            (Access::TenantGateway, Role::EventProducer, 403, 404),
            (Access::TenantGateway, Role::GatewayClient, 200, 404),
            (Access::TenantProvider, Role::SpAdmin, 200, 200),
            (Access::TenantProvider, Role::TenantAdmin, 403, 404),
            (Access::TenantProvider, Role::TenantViewer, 403, 404),
            (Access::TenantProvider, Role::EventProducer, 403, 404),
            (Access::TenantProvider, Role::GatewayClient, 403, 404),
            (Access::Tokens, Role::SpAdmin, 200, 200),
            (Access::Tokens, Role::TenantAdmin, 200, 200),
            (Access::Tokens, Role::TenantViewer, 403, 403),
            (Access::Tokens, Role::EventProducer, 403, 403),
            (Access::Tokens, Role::GatewayClient, 403, 403),
            (Access::Provider, Role::SpAdmin, 200, 200),
            (Access::Provider, Role::TenantAdmin, 403, 403),
            (Access::Provider, Role::TenantViewer, 403, 403),
            (Access::Provider, Role::EventProducer, 403, 403),
            (Access::Provider, Role::GatewayClient, 403, 403),
            (Access::Zapier, Role::SpAdmin, 401, 401),
            (Access::Zapier, Role::TenantAdmin, 401, 401),
            (Access::Zapier, Role::TenantViewer, 401, 401),
            (Access::Zapier, Role::EventProducer, 401, 401),
            (Access::Zapier, Role::GatewayClient, 401, 401),
        ];
        let status = |r: Result<(), Denial>| r.map_or_else(Denial::status, |()| 200);
        for &(access, role, own, other) in table {
            let bound = role.is_tenant_bound().then_some("acme");
            assert_eq!(status(access.decide(Some((role, bound)), Some("acme"))), own, "{access:?} {role:?} own");
            assert_eq!(status(access.decide(Some((role, bound)), Some("globex"))), other, "{access:?} {role:?} other");
        }
        for access in Access::ALL {
            let rows = table.iter().filter(|row| row.0 == access).count();
            assert!(access == Access::Public || rows == Role::ALL.len(), "{access:?} is not in the table");
            let expected = if access == Access::Public { 200 } else { 401 };
            assert_eq!(status(access.decide(None, Some("acme"))), expected, "{access:?} without a token");
        }
    }

    #[test]
    fn a_tenant_admin_manages_only_its_own_tenants_tokens() {
        let admin = (Role::TenantAdmin, Some("acme"));
        assert_eq!(Access::manage_token(admin, Some("acme")), Ok(()));
        assert_eq!(Access::manage_token(admin, Some("globex")), Err(Denial::TenantNotFound));
        assert_eq!(Access::manage_token(admin, None).map_err(Denial::status), Err(403));
        assert_eq!(
            Access::manage_token((Role::TenantViewer, Some("acme")), Some("acme")).map_err(Denial::status),
            Err(403)
        );
        assert_eq!(Access::manage_token((Role::SpAdmin, None), None), Ok(()));
    }

    #[test]
    fn a_tenant_token_without_its_tenant_sees_no_tenant() {
        assert_eq!(
            Access::TenantRead.decide(Some((Role::TenantAdmin, None)), Some("acme")),
            Err(Denial::TenantNotFound)
        );
    }

    #[test]
    fn roles_round_trip_through_their_names() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
        assert_eq!(Role::parse("root"), None);
    }
}
