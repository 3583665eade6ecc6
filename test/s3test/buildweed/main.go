// Command buildweed builds the SeaweedFS binary the S3 tests run, into
// its cache directory, unless it is there already, and prints its path.
// test/all.sh runs it before the end-to-end tier so that the build (several
// minutes of both cores) does not compete with tests measuring time.
package main

import (
	"fmt"
	"os"

	"github.com/tandemfs/tandem/test/s3test"
)

func main() {
	bin, err := s3test.Binary()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(bin)
}
