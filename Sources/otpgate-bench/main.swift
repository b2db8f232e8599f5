print("otpgate-bench: not written yet")
