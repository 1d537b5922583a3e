/// What a person signed in to Courtyard is employed or entitled to do.
///
/// Staff roles belong to a company (except the platform administrator, who
/// runs the installation); owners are residents with their own accounts. The
/// role→permission matrix lives in ``Role/permissions`` and is tested as a
/// table, so a change to it is always a visible decision.
public enum Role: String, Codable, Sendable, CaseIterable {
    /// Runs the Courtyard installation: creates companies and their first admins.
    case platformAdmin = "platform_admin"
    /// Runs one property-management company: its communities, staff and settings.
    case companyAdmin = "company_admin"
    /// Finance staff: fee standards, bills, payments, refunds, ledger.
    case finance
    /// Front desk (前台): residents, vehicles, counter payments.
    case frontDesk = "front_desk"
    /// Engineering staff: devices, meters, bindings.
    case engineer
    /// A resident with an owner account: sees only their own houses.
    case owner

    /// Whether this role is held by company staff (as opposed to owners or the platform).
    public var isStaff: Bool { self != .owner && self != .platformAdmin }

    /// The permissions this role grants.
    public var permissions: Set<Permission> {
        switch self {
        case .platformAdmin:
            return Set(Permission.allCases)
        case .companyAdmin:
            return Set(Permission.allCases).subtracting([.manageCompanies, .readOwnHouses])
        case .finance:
            return [.readProperty, .readPeople, .readDevices, .readUsers, .manageFinance, .readFinance, .recordUsage, .takePayments]
        case .frontDesk:
            return [.readProperty, .readPeople, .managePeople, .readDevices, .readFinance, .takePayments]
        case .engineer:
            return [.readProperty, .readDevices, .manageDevices, .recordUsage]
        case .owner:
            return [.readOwnHouses]
        }
    }

    /// Whether the role grants `permission`.
    public func allows(_ permission: Permission) -> Bool { permissions.contains(permission) }
}

/// One thing a route may require of the caller.
public enum Permission: String, Codable, Sendable, CaseIterable {
    /// Create companies (platform only).
    case manageCompanies = "manage_companies"
    /// Create and change staff users of the company.
    case manageUsers = "manage_users"
    /// List staff users.
    case readUsers = "read_users"
    /// Create and change communities, buildings, units, houses, parking spaces.
    case manageProperty = "manage_property"
    /// Read communities, buildings, units, houses, parking spaces.
    case readProperty = "read_property"
    /// Create and change people, occupancies, vehicles.
    case managePeople = "manage_people"
    /// Read people, occupancies, vehicles (personal data).
    case readPeople = "read_people"
    /// Create and change devices and their bindings.
    case manageDevices = "manage_devices"
    /// Read devices and bindings.
    case readDevices = "read_devices"
    /// Fee items and standards, bill runs, late-fee waivers and corrections; refund approvals, deposits, bank statements, reconciliation; supervising voids.
    case manageFinance = "manage_finance"
    /// Read fee items, standards, bills and bill runs.
    case readFinance = "read_finance"
    /// Take payments at the desk (cashier shifts, cash and POS), create payment orders for payers, ask for refunds.
    case takePayments = "take_payments"
    /// Enter and correct metered usage (manual readings, CSV imports).
    case recordUsage = "record_usage"
    /// An owner's view of their own houses.
    case readOwnHouses = "read_own_houses"
}
