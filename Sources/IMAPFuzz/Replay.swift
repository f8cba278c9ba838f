import Foundation

/// Built with FUZZING (scripts/fuzz-imap.sh), this hands control to libFuzzer's driver, which calls
/// `FuzzIMAP.run` with each input it makes. Built without (as `swift build` does), it replays the files it
/// is given: a crash libFuzzer found can be rerun here, under a debugger.
@main
enum Replay {
    static func main() {
        #if FUZZING
            var argc = CommandLine.argc
            var argv = CommandLine.unsafeArgv
            exit(LLVMFuzzerRunDriver(&argc, &argv, fuzzOneInput))
        #else
            for path in CommandLine.arguments.dropFirst() {
                guard let data = FileManager.default.contents(atPath: path) else {
                    print("cannot read \(path)")
                    continue
                }
                FuzzIMAP.run(Array(data))
                print("ran \(path)")
            }
        #endif
    }
}

#if FUZZING
    /// libFuzzer's entry for programs that have their own `main` (SwiftPM gives every executable one).
    @_silgen_name("LLVMFuzzerRunDriver")
    func LLVMFuzzerRunDriver(
        _ argc: UnsafeMutablePointer<Int32>,
        _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
        _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> Int32
    ) -> Int32

    /// What libFuzzer calls with each input; its runtime also wants the symbol by this name.
    @_cdecl("LLVMFuzzerTestOneInput")
    func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
        FuzzIMAP.run(Array(UnsafeBufferPointer(start: data, count: size)))
        return 0
    }
#endif
