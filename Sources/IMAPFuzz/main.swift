// Built without FUZZING (as `swift build` does), the target replays the files it is given: a crash that
// libFuzzer found can be rerun here, under a debugger. Built with FUZZING, libFuzzer supplies `main`.
#if !FUZZING
    import Foundation

    for path in CommandLine.arguments.dropFirst() {
        guard let data = FileManager.default.contents(atPath: path) else {
            print("cannot read \(path)")
            continue
        }
        FuzzIMAP.run(Array(data))
        print("ran \(path)")
    }
#endif
