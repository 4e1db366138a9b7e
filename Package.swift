// swift-tools-version:6.0
import PackageDescription

// Release builds target the build machine's vector units (AVX-512 here); the hot Swift loops
// (deformable sampling, LayerNorm, softmax) rely on it. Debug builds stay portable.
let nativeCPU: [SwiftSetting] = [.unsafeFlags(["-target-cpu", "native"], .when(configuration: .release))]

let package = Package(
    name: "qrt-detr",
    products: [
        .executable(name: "qrt-detr", targets: ["StreamDaemon"]),
    ],
    targets: [
        .systemLibrary(name: "CDNNL", path: "Sources/CDNNL"),
        .systemLibrary(name: "CLAPACK", path: "Sources/CLAPACK"),
        .systemLibrary(name: "CSystemd", path: "Sources/CSystemd", pkgConfig: "libsystemd"),
        .systemLibrary(name: "CMosquitto", path: "Sources/CMosquitto", pkgConfig: "libmosquitto"),
        .systemLibrary(name: "CMicroHTTPD", path: "Sources/CMicroHTTPD", pkgConfig: "libmicrohttpd"),
        .target(
            name: "CFFmpeg",
            path: "Sources/CFFmpeg",
            linkerSettings: [
                .linkedLibrary("avformat"), .linkedLibrary("avcodec"),
                .linkedLibrary("swscale"), .linkedLibrary("avutil"),
            ]),
        .target(name: "QRTCore", dependencies: ["CDNNL", "CLAPACK"], swiftSettings: nativeCPU),
        .target(name: "Decode", dependencies: ["CFFmpeg"], swiftSettings: nativeCPU),
        .target(name: "Adaptive", dependencies: ["QRTCore"], swiftSettings: nativeCPU),
        .executableTarget(
            name: "StreamDaemon",
            dependencies: ["Adaptive", "QRTCore", "Decode", "CSystemd", "CMosquitto", "CMicroHTTPD"],
            swiftSettings: nativeCPU),
        .testTarget(name: "QRTCoreTests", dependencies: ["QRTCore"], resources: [.copy("Fixtures")]),
        .testTarget(name: "DecodeTests", dependencies: ["Decode"]),
        .testTarget(name: "AdaptiveTests", dependencies: ["Adaptive"]),
        .testTarget(name: "StreamDaemonTests", dependencies: ["StreamDaemon"]),
    ]
)
