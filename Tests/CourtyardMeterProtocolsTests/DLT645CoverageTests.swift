import CourtyardMeterProtocols
import Testing

/// The identifiers a billing and prepaid system meets, read as DL/T 645-2007 Appendix A lays them out.
///
/// Source of every layout: DL/T 645-2007 《多功能电能表通信协议》 Appendix A — table A.1 (electric energy, DI3 00, with
/// the 0090xxxx local-prepaid registers), A.2 (maximum demand, 01), A.3 (variables, 02), A.4 (event records, 03),
/// A.5 (parameters, 04) and A.6 (frozen data, 05). Payloads are built here from those layouts (BCD, low byte first,
/// sign in the top bit of the highest byte); each frame goes through the real encoder and decoder (+0x33, checksum).
@Suite struct DLT645CoverageTests {
    /// The decoded fields of a reply to `identifier` carrying `payload`.
    func reply(_ identifier: UInt32, _ payload: [UInt8]) throws -> [DLT645.DataIdentifier.Value] {
        let id = DLT645.DataIdentifier(identifier)
        let frame = DLT645.Frame(address: .wildcard, control: DLT645.Control(raw: 0x91), data: id.wire + payload)
        guard case .readReply(_, _, let values, _, _) = try DLT645.decode(frame.encoded()), let values else {
            Issue.record("\(id) did not decode to values"); return []
        }
        return values
    }

    func shown(_ values: [DLT645.DataIdentifier.Value]) -> [String] {
        values.map { "\($0.name)=\($0.value.map { "\($0.text) \($0.unit)" } ?? $0.text ?? "")" }
    }

    @Test func energyOfEveryKindPhaseTariffAndSettlementDay() throws {
        // A.1: per phase (DI2 15 = phase A forward active), combined reactive 1 (signed), apparent, a tariff of a settlement day.
        #expect(shown(try reply(0x0015_0000, [0x45, 0x23, 0x01, 0x00])) == ["phase_a_forward_active_energy=123.45 kWh"])
        #expect(shown(try reply(0x0003_0000, [0x00, 0x50, 0x00, 0x80])) == ["combined_reactive_1_energy=-50.00 kvarh"])
        #expect(shown(try reply(0x0009_0000, [0x00, 0x00, 0x10, 0x00])) == ["forward_apparent_energy=1000.00 kVAh"])
        #expect(shown(try reply(0x0007_0000, [0x01, 0x00, 0x00, 0x00])) == ["reactive_q3_energy=0.01 kvarh"])
        #expect(shown(try reply(0x003D_0000, [0x01, 0x00, 0x00, 0x00])) == ["phase_c_forward_active_energy=0.01 kWh"])
        let settled = try reply(0x0001_0201, [0x00, 0x10, 0x00, 0x00])
        #expect(shown(settled) == ["forward_active_energy_peak_settlement_1=10.00 kWh"])
        #expect(settled.first?.register == nil, "a settlement day's figure feeds no live register")
        #expect(try reply(0x0001_0200, [0x00, 0x10, 0x00, 0x00]).first?.register == "tou_peak")
    }

    @Test func aBlockReplyHasAsManyTariffsAsTheMeter() throws {
        // Total and eight tariffs: 36 bytes.
        let payload = (0..<9).flatMap { index -> [UInt8] in [UInt8(index), 0x00, 0x00, 0x00] }
        let values = try reply(0x0001_FF00, payload)
        #expect(values.count == 9)
        #expect(
            values.map(\.name).suffix(4) == [
                "forward_active_energy_tariff_5", "forward_active_energy_tariff_6",
                "forward_active_energy_tariff_7", "forward_active_energy_tariff_8",
            ])
        #expect(throws: FrameError.self) { try reply(0x0001_FF00, [0x00, 0x00, 0x00]) }
    }

    @Test func maximumDemandWithTheTimeItOccurred() throws {
        // A.2: XX.XXXX kW then YYMMDDhhmm (22 November 2026, 10:05).
        let values = try reply(0x0101_0000, [0x56, 0x34, 0x12, 0x05, 0x10, 0x22, 0x11, 0x26])
        #expect(shown(values) == ["forward_active_max_demand=12.3456 kW", "forward_active_max_demand_at=2026-11-22 10:05"])
    }

    @Test func everyVariableOfThePowerFamily() throws {
        // A.3: reactive and apparent power, power factor (signed X.XXX), phase angle, distortion, neutral current,
        // temperature (signed), battery voltage and time, the current step price.
        #expect(
            shown(try reply(0x0204_FF00, [0x00, 0x10, 0x00, 0x00, 0x20, 0x00, 0x00, 0x30, 0x00, 0x00, 0x40, 0x80]))
                == ["reactive_power=0.1000 kvar", "reactive_power_a=0.2000 kvar", "reactive_power_b=0.3000 kvar", "reactive_power_c=-0.4000 kvar"])
        #expect(shown(try reply(0x0205_0000, [0x78, 0x56, 0x01])) == ["apparent_power=1.5678 kVA"])
        #expect(shown(try reply(0x0206_0000, [0x87, 0x89])) == ["power_factor=-0.987 "])
        #expect(shown(try reply(0x0206_0200, [0x00, 0x10])) == ["power_factor_b=1.000 "])
        #expect(shown(try reply(0x0207_0100, [0x05, 0x12])) == ["phase_angle_a=120.5 °"])
        #expect(shown(try reply(0x0208_0300, [0x34, 0x02])) == ["voltage_distortion_c=2.34 %"])
        #expect(shown(try reply(0x0280_0001, [0x00, 0x05, 0x00])) == ["neutral_current=0.500 A"])
        #expect(shown(try reply(0x0280_0002, [0x00, 0x50])) == ["frequency=50.00 Hz"])
        #expect(shown(try reply(0x0280_0007, [0x55, 0x80])) == ["meter_temperature=-5.5 °C"])
        #expect(shown(try reply(0x0280_0008, [0x60, 0x03])) == ["clock_battery_voltage=3.60 V"])
        #expect(shown(try reply(0x0280_000A, [0x00, 0x20, 0x01, 0x00])) == ["battery_working_time=12000 min"])
        #expect(shown(try reply(0x0280_000B, [0x83, 0x53, 0x00, 0x00])) == ["current_step_price=0.5383 CNY/kWh"])
    }

    @Test func localPrepaidRegisters() throws {
        // A.1, 0090xxxx: remaining and overdrawn energy and money of a meter that keeps its own balance.
        #expect(shown(try reply(0x0090_0100, [0x50, 0x12, 0x00, 0x00])) == ["remaining_energy=12.50 kWh"])
        #expect(shown(try reply(0x0090_0101, [0x00, 0x03, 0x00, 0x00])) == ["overdraft_energy=3.00 kWh"])
        #expect(shown(try reply(0x0090_0200, [0x45, 0x23, 0x01, 0x00])) == ["remaining_money=123.45 CNY"])
        #expect(shown(try reply(0x0090_0201, [0x00, 0x05, 0x00, 0x00])) == ["overdraft_money=5.00 CNY"])
    }

    @Test func dateTimeAddressAndMeterNumber() throws {
        // A.5: YYMMDDWW (a Sunday), hhmmss, the address and the meter number as twelve digits.
        #expect(shown(try reply(0x0400_0101, [0x00, 0x22, 0x11, 0x26])) == ["date=2026-11-22 (weekday 0)"])
        #expect(shown(try reply(0x0400_0102, [0x30, 0x05, 0x10])) == ["time=10:05:30"])
        #expect(shown(try reply(0x0400_0401, [0x01, 0x00, 0x00, 0x00, 0x00, 0x00])) == ["address=000000000001"])
        #expect(shown(try reply(0x0400_0402, [0x78, 0x56, 0x34, 0x12, 0x00, 0x00])) == ["meter_number=000012345678"])
        #expect(throws: FrameError.self) { try reply(0x0400_0101, [0x00, 0x32, 0x13, 0x26]) }  // the 32nd of the 13th month
    }

    @Test func dailyFrozenDataOfTheLastDays() throws {
        // A.6: the freeze time of the day before, then its forward active energy, total and four tariffs.
        #expect(shown(try reply(0x0506_0001, [0x00, 0x00, 0x22, 0x11, 0x26])) == ["daily_freeze_1_at=2026-11-22 00:00"])
        let energy = try reply(
            0x0506_0101,
            [
                0x00, 0x10, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00,
                0x00, 0x03, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00,
            ])
        #expect(
            shown(energy) == [
                "daily_freeze_1_forward_active_energy=10.00 kWh", "daily_freeze_1_forward_active_energy_sharp=1.00 kWh",
                "daily_freeze_1_forward_active_energy_peak=4.00 kWh", "daily_freeze_1_forward_active_energy_flat=3.00 kWh",
                "daily_freeze_1_forward_active_energy_valley=2.00 kWh",
            ])
        #expect(energy.allSatisfy { $0.register == nil })
    }

    @Test func powerFailureAndCoverOpeningRecords() throws {
        // A.4: power-failure count and the last one's start and end (YYMMDDhhmmss each).
        #expect(shown(try reply(0x0311_0000, [0x12, 0x00, 0x00])) == ["power_failure_count=12 "])
        #expect(
            shown(try reply(0x0311_0001, [0x58, 0x59, 0x23, 0x20, 0x11, 0x26, 0x10, 0x03, 0x00, 0x21, 0x11, 0x26]))
                == ["power_failure_1_start=2026-11-20 23:59:58", "power_failure_1_end=2026-11-21 00:03:10"])
        #expect(shown(try reply(0x0330_0D00, [0x02, 0x00, 0x00])) == ["cover_open_count=2 "])
        // The last cover opening: start, end, and six totals before and six after (60 bytes).
        var record: [UInt8] = [0x00, 0x30, 0x14, 0x21, 0x11, 0x26, 0x00, 0x45, 0x14, 0x21, 0x11, 0x26]
        for index in 0..<12 { record += [UInt8(index / 10 * 16 + index % 10), 0x00, 0x00, 0x00] }
        let opened = try reply(0x0330_0D01, record)
        #expect(opened.count == 14)
        #expect(
            shown(Array(opened.prefix(3))) == [
                "cover_open_1_start=2026-11-21 14:30:00", "cover_open_1_end=2026-11-21 14:45:00",
                "cover_open_1_forward_active_before=0.00 kWh",
            ])
        #expect(opened.last?.name == "cover_open_1_reactive_q4_after")
    }
}
