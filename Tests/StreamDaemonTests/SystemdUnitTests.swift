import Foundation
import Testing

/// systemd/qrt-detr.service: hardened as DESIGN.md asks, and accepted by `systemd-analyze verify`.
@Suite struct SystemdUnitTests {
    let unit = (try? String(contentsOf: TestSupport.repoRoot.appendingPathComponent("systemd/qrt-detr.service"), encoding: .utf8)) ?? ""

    @Test func unitIsHardened() {
        let lines = Set(unit.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) })
        for directive in ["Type=notify", "DynamicUser=yes", "StateDirectory=qrt-detr", "ConfigurationDirectory=qrt-detr",
                          "ProtectSystem=strict", "ProtectHome=yes", "PrivateTmp=yes", "NoNewPrivileges=yes",
                          "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6", "SupplementaryGroups=video",
                          "DeviceAllow=char-video4linux rw", "DevicePolicy=closed", "WatchdogSec=30", "Restart=on-failure",
                          "ExecReload=/bin/kill -HUP $MAINPID"] {
            #expect(lines.contains(directive), "missing \(directive)")
        }
        // oneDNN's JIT needs writable+executable pages.
        #expect(!unit.contains("\nMemoryDenyWriteExecute=yes"))
    }

    @Test(.timeLimit(.minutes(1))) func systemdAnalyzeVerifyPasses() throws {
        let binary = try #require(TestSupport.binary, "qrt-detr binary not found beside the tests")
        guard let _ = TestSupport.executable("systemd-analyze") else {
            Issue.record("systemd-analyze is not installed (Debian package systemd)")
            return
        }
        let script = TestSupport.repoRoot.appendingPathComponent("tools/systemd/verify-unit.sh").path
        let result = try TestSupport.run("/bin/sh", [script, binary], timeout: 50)
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stderr.isEmpty, "verify warnings: \(result.stderr)")
    }
}
