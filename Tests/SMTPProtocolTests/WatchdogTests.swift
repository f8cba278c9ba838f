import SMTPProtocol
import Testing

@Suite struct WatchdogTests {
    var limits: SessionWatchdog.Limits {
        var limits = SessionWatchdog.Limits()
        limits.commandTimeout = .seconds(300)
        limits.dataTimeout = .seconds(120)
        limits.minimumDataRate = 1000
        limits.rateGrace = .seconds(30)
        return limits
    }

    @Test func commandTimeout() {
        var watchdog = SessionWatchdog(limits: limits, now: .zero)
        #expect(watchdog.verdict(now: .seconds(299), phase: .command) == .fine)
        #expect(watchdog.verdict(now: .seconds(300), phase: .command) == .idle)
        watchdog.replied(now: .seconds(200))
        #expect(watchdog.verdict(now: .seconds(499), phase: .command) == .fine)
    }

    @Test func aCommandTrickledByteByByteStillTimesOut() {
        var watchdog = SessionWatchdog(limits: limits, now: .zero)
        for second in stride(from: 0, to: 300, by: 60) {
            watchdog.received(1, now: .seconds(Int64(second)), phase: .command)
        }
        #expect(watchdog.verdict(now: .seconds(300), phase: .command) == .idle)
    }

    @Test func nothingExpiresWhileWaitingForOurOwnWork() {
        let watchdog = SessionWatchdog(limits: limits, now: .zero)
        #expect(watchdog.verdict(now: .seconds(100_000), phase: .waitingForDriver) == .fine)
    }

    @Test func dataIdleTimeout() {
        var watchdog = SessionWatchdog(limits: limits, now: .zero)
        watchdog.phaseChanged(to: .data, now: .seconds(10))
        watchdog.received(1_000_000, now: .seconds(11), phase: .data)
        #expect(watchdog.verdict(now: .seconds(130), phase: .data) == .fine)
        #expect(watchdog.verdict(now: .seconds(131), phase: .data) == .idle)
    }

    @Test func tricklingClientIsTooSlowAfterTheGrace() {
        var watchdog = SessionWatchdog(limits: limits, now: .zero)
        watchdog.phaseChanged(to: .data, now: .zero)
        for second in 1...60 {
            watchdog.received(10, now: .seconds(Int64(second)), phase: .data)
            let verdict = watchdog.verdict(now: .seconds(Int64(second)), phase: .data)
            #expect(verdict == (second < 30 ? .fine : .tooSlow), "at \(second) s")
        }
    }

    @Test func steadySenderIsFine() {
        var watchdog = SessionWatchdog(limits: limits, now: .zero)
        watchdog.phaseChanged(to: .data, now: .zero)
        for second in 1...600 {
            watchdog.received(2000, now: .seconds(Int64(second)), phase: .data)
            #expect(watchdog.verdict(now: .seconds(Int64(second)), phase: .data) == .fine)
        }
    }

    @Test func rateCheckCanBeTurnedOff() {
        var noRate = limits
        noRate.minimumDataRate = 0
        var watchdog = SessionWatchdog(limits: noRate, now: .zero)
        watchdog.phaseChanged(to: .data, now: .zero)
        watchdog.received(1, now: .seconds(100), phase: .data)
        #expect(watchdog.verdict(now: .seconds(101), phase: .data) == .fine)
    }

    @Test func aNewMessageStartsANewMeasurement() {
        var watchdog = SessionWatchdog(limits: limits, now: .zero)
        watchdog.phaseChanged(to: .data, now: .zero)
        watchdog.received(10, now: .seconds(29), phase: .data)
        watchdog.phaseChanged(to: .command, now: .seconds(29))
        watchdog.phaseChanged(to: .data, now: .seconds(40))
        watchdog.received(100_000, now: .seconds(41), phase: .data)
        #expect(watchdog.verdict(now: .seconds(75), phase: .data) == .fine)
    }
}
