import CourtyardDomain
import Foundation
import SQLKit

/// A device record: a meter, valve, camera, barrier, sensor, pile, reader or controller.
///
/// Only the record lives here; ingestion and commands come in their own
/// modules. Devices are known to the outside by ``deviceKey`` (the id they
/// report with), never by owner data.
public struct Device: TenantRecord, Codable, Equatable {
    /// What the device is.
    public enum Kind: String, Codable, Sendable, CaseIterable {
        case waterMeter = "water_meter"
        case electricityMeter = "electricity_meter"
        case gasMeter = "gas_meter"
        case heatMeter = "heat_meter"
        case plateCamera = "plate_camera"
        case barrier
        case groundSensor = "ground_sensor"
        case chargingPile = "charging_pile"
        case facilityReader = "facility_reader"
        case accessController = "access_controller"

        /// Whether it is a metering device whose registers become usage.
        public var isMeter: Bool {
            switch self {
            case .waterMeter, .electricityMeter, .gasMeter, .heatMeter: return true
            default: return false
            }
        }
    }

    /// How the device talks to Courtyard.
    public enum Transport: String, Codable, Sendable, CaseIterable {
        case http, mqtt, dlt645, cjt188, manual
    }

    /// Lifecycle state of the record.
    public enum Status: String, Codable, Sendable, CaseIterable {
        case active, inactive, retired
    }

    public var id: String
    public var companyId: String
    public var communityId: String
    /// The id the device reports with, unique within the company (e.g. `water_meter_102`).
    public var deviceKey: String
    public var kind: Kind
    public var `protocol`: Transport
    public var model: String?
    /// Protocol address (DL/T 645 6-byte or CJ/T 188 7-byte BCD address as 12/14 hex digits), if any.
    public var address: String?
    public var status: Status
    /// Where the cumulative register wraps to zero (e.g. 1,000,000 kWh for a six-integer-digit register), in milli-units;
    /// nil means the register never wraps and a fall is always held for review.
    public var registerModulus: Quantity?
    /// The firmware version the device reports or the engineer recorded.
    public var firmware: String?
    public var createdAt: Date
    public var updatedAt: Date

    public init(
        id: String, companyId: String, communityId: String, deviceKey: String, kind: Kind, protocol: Transport,
        model: String?, address: String?, status: Status, registerModulus: Quantity? = nil, firmware: String? = nil, createdAt: Date, updatedAt: Date
    ) {
        self.id = id; self.companyId = companyId; self.communityId = communityId; self.deviceKey = deviceKey
        self.kind = kind; self.protocol = `protocol`; self.model = model; self.address = address; self.status = status
        self.registerModulus = registerModulus; self.firmware = firmware; self.createdAt = createdAt; self.updatedAt = updatedAt
    }

    public static let table = "devices"
    public static let columns = [
        "id", "company_id", "community_id", "device_key", "kind", "protocol", "model", "address",
        "status", "register_modulus_milli", "firmware", "created_at", "updated_at",
    ]

    public init(row: RowReader) throws {
        self.init(
            id: try row.string("id"), companyId: try row.string("company_id"), communityId: try row.string("community_id"),
            deviceKey: try row.string("device_key"), kind: try row.value("kind", as: Kind.self),
            protocol: try row.value("protocol", as: Transport.self), model: try row.optionalString("model"),
            address: try row.optionalString("address"), status: try row.value("status", as: Status.self),
            registerModulus: try row.optionalInt64("register_modulus_milli").map(Quantity.init(milliUnits:)),
            firmware: try row.optionalString("firmware"),
            createdAt: try row.instant("created_at"), updatedAt: try row.instant("updated_at"))
    }

    public var storageValues: [any SQLExpression] {
        [
            SQLBind(id), SQLBind(companyId), SQLBind(communityId), SQLBind(deviceKey), SQLBind(kind.rawValue),
            SQLBind(`protocol`.rawValue), sqlValue(model), sqlValue(address), SQLBind(status.rawValue),
            sqlValue(registerModulus?.milliUnits), sqlValue(firmware), SQLBind(createdAt.epochMilliseconds), SQLBind(updatedAt.epochMilliseconds),
        ]
    }
}
