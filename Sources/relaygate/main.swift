print("relaygate")
